"""The train / sample / demo sub-commands, driven through their own argparse parsers."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
from PIL import Image

from aigc_sdk.commands import demo, sample, train


def _run(module, *argv: str) -> int:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser(prog="aigc")
    sub = parser.add_subparsers()
    module.add_parser(sub)
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_train_then_sample(tmp_path, capsys) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"channels": 8, "hidden": 16, "trainer": {"sample_every": 2}}))
    out = tmp_path / "run"
    assert (
        _run(
            train,
            "train",
            "cvae",
            "--dataset",
            "digits",
            "--steps",
            "4",
            "--batch-size",
            "16",
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--checkpoint-every",
            "2",
            "--no-progress",
        )
        == 0
    )
    assert (out / "model" / "config.json").is_file() and (out / "samples" / "step-00000004.png").is_file()
    # --resume continues from the newest checkpoint up to the new --steps
    assert (
        _run(
            train,
            "train",
            "cvae",
            "--dataset",
            "digits",
            "--steps",
            "6",
            "--batch-size",
            "16",
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--resume",
            "--no-progress",
        )
        == 0
    )
    assert (out / "checkpoints" / "step-00000006").is_dir()
    grid = tmp_path / "g.png"
    assert (
        _run(
            sample,
            "sample",
            str(out / "model"),
            "-n",
            "12",
            "--seed",
            "0",
            "--grid",
            str(grid),
            "--class",
            "3",
            "--save",
            str(tmp_path / "s.safetensors"),
        )
        == 0
    )
    assert Image.open(grid).size[0] > 8
    from safetensors.torch import load_file

    first = load_file(str(tmp_path / "s.safetensors"))
    assert first["labels"].tolist() == [3] * 12
    assert (
        _run(
            sample,
            "sample",
            str(out / "model"),
            "-n",
            "12",
            "--seed",
            "0",
            "--class",
            "3",
            "--save",
            str(tmp_path / "t.safetensors"),
        )
        == 0
    )
    assert torch.equal(first["samples"], load_file(str(tmp_path / "t.safetensors"))["samples"])


def test_command_errors(tmp_path, capsys) -> None:
    assert _run(sample, "sample", str(tmp_path), "--grid", str(tmp_path / "x.png")) == 2
    assert "config.json" in capsys.readouterr().err
    assert _run(train, "train", "cvae", "--dataset", "nope", "--out", str(tmp_path), "--steps", "1") == 2
    assert "nope" in capsys.readouterr().err
    assert _run(train, "train", "cvae", "--dataset", "digits", "--out", str(tmp_path), "--nproc", "0") == 2


@pytest.mark.slow
def test_demo_quick(tmp_path) -> None:
    out = tmp_path / "demo"
    assert _run(demo, "demo", "--quick", "--out", str(out), "--no-progress") == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["models"]) == {"cgan", "cvae"}
    assert (out / "report.md").read_text().startswith("# aigc demo report")
    for key in ("cgan", "cvae"):
        entry = report["models"][key]
        for metric in ("fid", "kid", "precision", "recall", "density", "coverage", "cas"):
            assert metric in entry["metrics"], (key, metric)
        assert entry["n_fake"] == entry["n_real"] == 100
        assert entry["extractor"].startswith("classifier-mnist5k-")
        # 20 steps cannot cover the data: the report must say so in words
        assert any(w.startswith("mode collapse") for w in entry["warnings"])
    assert "iwae_nll" in report["models"]["cvae"]["metrics"]
    assert "iwae_nll" not in report["models"]["cgan"]["metrics"]
    md = (out / "report.md").read_text()
    assert "recall" in md and "## Warnings" in md and report["models"]["cgan"]["extractor"] in md
    assert (out / "cgan_samples.png").is_file() and (out / "cvae_samples.png").is_file()
    # a second demo into the same directory replaces the first one's run
    assert _run(demo, "demo", "--quick", "--out", str(out), "--no-progress", "--gan-steps", "2") == 0
    assert json.loads((out / "report.json").read_text())["models"]["cgan"]["steps"] == 2
    assert (
        _run(sample, "sample", str(out / "cgan" / "model"), "-n", "4", "--grid", str(tmp_path / "s.png")) == 0
    )


def test_train_with_the_quality_monitor_logs_and_keeps_the_best_model(tmp_path, capsys) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"channels": 8}))
    out = tmp_path / "run"
    argv = ["train", "cgan", "--dataset", "digits", "--steps", "6", "--batch-size", "16"]
    argv += ["--config", str(cfg), "--out", str(out), "--eval-every", "3", "--eval-n", "50"]
    assert _run(train, *argv, "--best-by", "coverage", "--min-recall", "0.0") == 0
    rows = [json.loads(line) for line in (out / "quality.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6]
    assert all(0.0 <= r["recall"] <= 1.0 and "coverage" in r for r in rows)
    assert (out / "best" / "config.json").is_file()
    # a collapse threshold no 6-step model can meet stops the run with a one-line error
    code = _run(train, *argv, "--overwrite", "--min-recall", "1.0", "--stop-on-collapse")
    assert code == 1 and "recall" in capsys.readouterr().err


def test_train_quality_flags_need_eval_every(tmp_path, capsys) -> None:
    argv = ["train", "gan", "--dataset", "digits", "--steps", "1", "--out", str(tmp_path / "r")]
    assert _run(train, *argv, "--min-recall", "0.5") == 2
    assert "--eval-every" in capsys.readouterr().err
