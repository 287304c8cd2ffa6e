"""Two gloo processes on CPU take the same step as one process on the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file


def _train(out, nproc: int, cfg, steps: int = 200) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    cmd = [
        sys.executable,
        "-m",
        "aigc_sdk.commands.train",
        "ae",
        "--dataset",
        "digits",
        "--steps",
        str(steps),
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
def test_two_process_ddp_matches_single_process_after_200_steps(tmp_path) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"arch": "mlp", "hidden": 32, "latent_dim": 4}))
    single = _train(tmp_path / "single", 1, cfg)
    ddp = _train(tmp_path / "ddp", 2, cfg)
    assert single.keys() == ddp.keys()
    # code_mean/code_var are running statistics of each rank's own codes, not parameters.
    params = [k for k in single if not k.startswith("code_")]
    assert len(params) > 4
    for k in params:  # after 200 steps, within 1e-5 relative (measured: about 2e-7)
        rel = float((ddp[k] - single[k]).norm() / single[k].norm())
        assert rel < 1e-5, f"parameter {k} differs by {rel:.2e} (relative)"

    # Logged metrics are averaged over the ranks: the same loss as one process on the whole batch.
    def first_loss(run: str) -> float:
        return float(json.loads((tmp_path / run / "metrics.jsonl").read_text().splitlines()[0])["loss"])

    assert first_loss("ddp") == pytest.approx(first_loss("single"), rel=1e-5)


def _torchrun(tmp_path, *args: str) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "result"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += [str(Path(__file__).with_name("_ddp_child.py")), str(out), *args]
    res = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return [json.loads((tmp_path / f"result.{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_ddp_wraps_each_trainable_network_and_gives_the_plain_model_back(tmp_path) -> None:
    for rank in _torchrun(tmp_path, "gan", "ddp", "0"):
        assert "error" not in rank, rank
        assert rank["during"]["generator"] == "NetworkDDP" and rank["during"]["discriminator"] == "NetworkDDP"
        assert rank["during"]["generator_ema"] != "NetworkDDP"  # nothing to synchronise
        assert "NetworkDDP" not in rank["after"].values() and rank["keys_plain"]


@pytest.mark.slow
def test_a_network_method_under_ddp_is_a_clear_error_and_allreduce_works(tmp_path) -> None:
    for rank in _torchrun(tmp_path / "ddp", "gan", "ddp", "0.5"):  # aux loss calls discriminator.scores()
        assert "scores() is not reachable under DistributedDataParallel" in rank["error"]
        assert "data_parallel='allreduce'" in rank["error"]
    for rank in _torchrun(tmp_path / "ar", "gan", "allreduce", "0.5"):
        assert "error" not in rank, rank
        assert "NetworkDDP" not in rank["during"].values()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _two_agents(out, steps: int, *extra: str) -> None:  # type: ignore[no-untyped-def]
    """Two torchrun agents (one process each) on 127.0.0.1 forming one job, as two nodes would."""
    port = _free_port()
    train = ["ae", "--dataset", "digits", "--steps", str(steps), "--batch-size", "16", "--seed", "1"]
    train += ["--out", str(out), "--config", str(out.parent / "cfg.json"), "--device", "cpu", "--no-progress"]
    train += ["--checkpoint-every", "2", *extra]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1"]
    cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "aigc-test"]
    cmd += ["-m", "aigc_sdk.commands.train", *train]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    agents = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [a.communicate(timeout=600)[0] for a in agents]
    for a, text in zip(agents, outputs, strict=True):
        assert a.returncode == 0, text


@pytest.mark.slow
def test_two_agents_on_localhost_train_checkpoint_and_resume(tmp_path) -> None:
    (tmp_path / "cfg.json").write_text(json.dumps({"arch": "mlp", "hidden": 32, "latent_dim": 4}))
    out = tmp_path / "multi"
    _two_agents(out, 4)
    assert (out / "checkpoints" / "step-00000004").is_dir()
    _two_agents(out, 8, "--resume")
    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2 and [r["step"] for r in run["resumes"]] == [4]
    single = _train(tmp_path / "single", 1, tmp_path / "cfg.json", steps=8)
    multi = load_file(str(out / "model" / "model.safetensors"))
    for k in (k for k in single if not k.startswith("code_")):
        rel = float((multi[k] - single[k]).norm() / single[k].norm())
        assert rel < 1e-5, f"parameter {k} differs by {rel:.2e} (relative)"
