"""aigc_sdk.evaluate and `aigc eval` on a PNG folder and on a (stub) saved model."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

import aigc_sdk
from aigc_sdk.evaluation import evaluate, report_to_markdown


@pytest.fixture
def png_dir(tmp_path):
    x, y = aigc_sdk.load_dataset("digits").load("test").tensors
    root = tmp_path / "pngs"
    for i in range(120):
        d = root / str(int(y[i]))
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray((x[i, 0].numpy() * 255).round().astype(np.uint8)).save(d / f"{i}.png")
    return root


def test_evaluate_png_folder(png_dir, tmp_cache):
    rep = evaluate(png_dir, dataset="digits", metrics=("fid", "kid", "prc", "dc", "cas", "is"), n=300)
    m = rep["metrics"]
    assert set(m) >= {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "cas", "is"}
    assert rep["source_kind"] == "images" and rep["n_fake"] == 120 and rep["n_real"] == 300
    assert rep["extractor"].startswith("classifier-digits-")
    assert m["cas"] > 0.85 and np.isfinite(m["fid"])
    assert "| fid |" in report_to_markdown(rep)
    json.dumps(rep)


class _StubModel:
    num_classes = 10

    def sample(self, n, *, generator=None, condition=None):
        x, y = aigc_sdk.load_dataset("digits").load("train").tensors
        idx = torch.stack([torch.nonzero(y == c)[0, 0] for c in condition])
        return x[idx]


def test_cli_on_a_saved_model(tmp_path, tmp_cache, monkeypatch):
    model_dir = tmp_path / "run" / "model"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"")
    monkeypatch.setitem(aigc_sdk.__dict__, "load", lambda path: _StubModel())
    from aigc_sdk.commands import eval as eval_cmd

    parser = argparse.ArgumentParser()
    eval_cmd.add_parser(parser.add_subparsers())
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    args = parser.parse_args(
        ["eval", str(tmp_path / "run"), "--dataset", "digits", "--metrics", "fid,cas", "--n", "200",
         "--json", str(out_json), "--markdown", str(out_md)]
    )  # fmt: skip
    assert args.func(args) == 0
    rep = json.loads(out_json.read_text())
    assert rep["source_kind"] == "model" and rep["metrics"]["cas"] > 0.9
    assert "| cas |" in out_md.read_text()
    bad = parser.parse_args(["eval", str(tmp_path / "nope"), "--dataset", "digits"])
    assert bad.func(bad) == 2


def test_evaluate_a_model_saved_by_the_model_plugins(tmp_path, tmp_cache):
    """End to end with a real saved model (untrained cgan: checks plumbing, not quality)."""
    torch.manual_seed(0)
    model = aigc_sdk.create_model("cgan", dataset="digits")
    model.save(str(tmp_path / "cgan"))
    rep = aigc_sdk.evaluate(str(tmp_path / "cgan"), dataset="digits", metrics=("fid", "cas"), n=100)
    assert rep["source_kind"] == "model"
    assert rep["metrics"]["fid"] > 0 and 0.0 <= rep["metrics"]["cas"] <= 1.0
    again = aigc_sdk.evaluate(str(tmp_path / "cgan"), dataset="digits", metrics=("fid", "cas"), n=100)
    assert again["metrics"] == rep["metrics"]  # seeded end to end
