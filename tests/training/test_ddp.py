"""Two gloo processes on CPU take the same step as one process on the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file


def _train(out, nproc: int, cfg) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    cmd = [
        sys.executable,
        "-m",
        "aigc_sdk.commands.train",
        "ae",
        "--dataset",
        "digits",
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--seed",
        "1",
        "--out",
        str(out),
        "--config",
        str(cfg),
        "--nproc",
        str(nproc),
        "--device",
        "cpu",
        "--no-progress",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return load_file(str(out / "model" / "model.safetensors"))


@pytest.mark.slow
def test_two_process_gloo_matches_single_process(tmp_path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"arch": "mlp", "hidden": 32, "latent_dim": 4}))
    single = _train(tmp_path / "single", 1, cfg)
    ddp = _train(tmp_path / "ddp", 2, cfg)
    assert single.keys() == ddp.keys()
    # code_mean/code_var are running statistics of each rank's own codes, not parameters.
    params = [k for k in single if not k.startswith("code_")]
    assert len(params) > 4
    for k in params:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-4, atol=1e-6, msg=f"parameter {k} differs")

    # Logged metrics are averaged over the ranks: the same loss as one process on the whole batch.
    def first_loss(run: str) -> float:
        return float(json.loads((tmp_path / run / "metrics.jsonl").read_text().splitlines()[0])["loss"])

    assert first_loss("ddp") == pytest.approx(first_loss("single"), rel=1e-5)
