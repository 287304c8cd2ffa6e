"""A run directory belongs to one run: a fresh run refuses another run's out_dir (nothing of it
is touched), overwrite=True replaces it, and a resume must match the run it continues."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import TensorDataset

import aigc_sdk
from aigc_sdk.commands import train
from aigc_sdk.training import Trainer, list_checkpoints
from aigc_sdk.training import checkpoint as ckpt
from aigc_sdk.training.run_dir import RUN_FILE, RunDirectoryError


def _data(n: int = 48) -> TensorDataset:
    return TensorDataset(torch.rand(n, 6, generator=torch.Generator().manual_seed(0)))


def _trainer(out: Path, steps: int, **kw: Any) -> Trainer:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("ae", data_shape=[6], hidden=kw.pop("hidden", 16), latent_dim=2)
    opts: dict[str, Any] = {"batch_size": 16, "checkpoint_every": 2, "keep_last": 2, "progress": False}
    return Trainer(model, _data(), steps=steps, out_dir=out, **{**opts, **kw})


def _rows(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_fresh_run_into_another_runs_out_dir_is_refused_and_deletes_nothing(tmp_path: Path) -> None:
    _trainer(tmp_path, 8).fit()
    before = _snapshot(tmp_path)
    with pytest.raises(RunDirectoryError) as info:
        _trainer(tmp_path, 4, checkpoint_every=1).fit()
    msg = str(info.value)
    assert "\n" not in msg and info.value.key == "out_dir"
    for part in (
        "already holds a training run",
        "checkpoint(s) up to step 8",
        "8 metrics row",
        "resume=True",
        "--resume",
        "overwrite=True",
        "--overwrite",
    ):
        assert part in msg, part
    assert isinstance(info.value, ValueError)
    assert _snapshot(tmp_path) == before  # checkpoints, metrics.jsonl/csv and run.json untouched
    # a later resume continues the original run, not a splice of two
    tr = _trainer(tmp_path, 10, resume=True)
    tr.fit()
    assert _rows(tmp_path) == list(range(1, 11))
    assert [s for s, _ in list_checkpoints(tmp_path / "checkpoints")] == [8, 10]


def test_overwrite_replaces_the_old_run_and_keeps_other_files(tmp_path: Path) -> None:
    _trainer(tmp_path, 8, sample_every=4, hidden=32).fit()
    aigc_sdk.save_model(_trainer(tmp_path / "x", 1).model, tmp_path / "model", name="ae")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "quality.jsonl").write_text("{}\n")
    created = json.loads((tmp_path / RUN_FILE).read_text())
    _trainer(tmp_path, 3, overwrite=True, checkpoint_every=None).fit()  # another config: a new run
    assert [s for s, _ in list_checkpoints(tmp_path / "checkpoints")] == [3]
    assert _rows(tmp_path) == [1, 2, 3]
    assert not (tmp_path / "samples").exists() and not (tmp_path / "model").exists()
    assert not (tmp_path / "quality.jsonl").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    run = json.loads((tmp_path / RUN_FILE).read_text())
    assert run["model"]["config"]["hidden"] == 16 and created["model"]["config"]["hidden"] == 32
    assert run["seed"] == 0 and run["batch_size"] == 16 and run["model"]["name"] == "ae" and run["created"]
    with pytest.raises(ValueError, match="resume and overwrite"):
        _trainer(tmp_path, 3, overwrite=True, resume=True)


@pytest.mark.parametrize(
    ("change", "key"),
    [({"seed": 5}, "seed"), ({"hidden": 32}, "model.config.hidden"), ({"batch_size": 8}, "batch_size")],
)
def test_resume_refuses_a_different_run(tmp_path: Path, change: dict[str, Any], key: str) -> None:
    _trainer(tmp_path, 4).fit()
    before = _snapshot(tmp_path)
    with pytest.raises(RunDirectoryError) as info:
        _trainer(tmp_path, 6, resume=True, **change).fit()
    assert info.value.key == key
    assert key.rsplit(".", 1)[-1] in str(info.value)
    assert _snapshot(tmp_path) == before


def test_resume_checks_run_json_even_before_the_first_checkpoint(tmp_path: Path) -> None:
    _trainer(tmp_path, 1, checkpoint_every=None).fit()
    for _, path in list_checkpoints(tmp_path / "checkpoints"):
        ckpt._remove_dir(path)  # as if killed before the first checkpoint
    with pytest.raises(RunDirectoryError, match="seed") as info:
        _trainer(tmp_path, 2, resume=True, seed=1).fit()
    assert info.value.key == "seed"


def test_metrics_are_appended_on_resume_and_rows_past_the_checkpoint_dropped(tmp_path: Path) -> None:
    _trainer(tmp_path, 6, checkpoint_every=3).fit()
    # a run killed after its last checkpoint (step 6) logged steps 7-8, then a torn line
    with (tmp_path / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 7, "loss": 1.0}\n{"step": 8, "loss": 1.0}\n{"step": 9, "lo')
    _trainer(tmp_path, 9, checkpoint_every=3, resume=True).fit()
    assert _rows(tmp_path) == list(range(1, 10))
    csv_steps = [line.split(",")[0] for line in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert csv_steps == [str(s) for s in range(1, 10)]


def test_resume_from_an_older_checkpoint_of_the_same_dir_is_refused(tmp_path: Path) -> None:
    _trainer(tmp_path, 6, keep_last=None).fit()
    with pytest.raises(RunDirectoryError, match="later checkpoints") as info:
        _trainer(tmp_path, 8, resume=tmp_path / "checkpoints" / "step-00000002").fit()
    assert info.value.key == "resume"
    # into an empty out_dir it is a new branch of the run
    tr = _trainer(tmp_path / "branch", 4, resume=tmp_path / "checkpoints" / "step-00000002")
    tr.fit()
    assert _rows(tmp_path / "branch") == [3, 4]


def test_keep_last_never_prunes_newer_checkpoints(tmp_path: Path) -> None:
    tr = _trainer(tmp_path, 1)
    tr._setup()
    for step in (100, 20):
        ckpt.save_checkpoint(tmp_path, step, tr.model, tr.optimizers, {"seed": 0}, keep_last=1)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [20, 100]


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="aigc")
    sub = parser.add_subparsers()
    train.add_parser(sub)
    args = parser.parse_args(
        ["train", "ae", "--dataset", "digits", "--batch-size", "16", "--no-progress", *argv]
    )
    return int(args.func(args))


def test_cli_rerun_is_refused_then_overwrite_and_resume_work(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"hidden": 16, "latent_dim": 2}))
    out = tmp_path / "run"
    common = ("--config", str(cfg), "--out", str(out))
    assert _cli(*common, "--steps", "8", "--checkpoint-every", "2") == 0
    capsys.readouterr()
    assert _cli(*common, "--steps", "3", "--checkpoint-every", "1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "--resume" in err and "--overwrite" in err
    assert _rows(out) == list(range(1, 9))
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [4, 6, 8]
    assert _cli(*common, "--steps", "10", "--resume") == 0
    assert _rows(out) == list(range(1, 11))
    assert _cli(*common, "--steps", "3", "--overwrite") == 0
    assert _rows(out) == [1, 2, 3]
    assert [s for s, _ in list_checkpoints(out / "checkpoints")] == [3]
    assert _cli(*common, "--steps", "4", "--resume", "--seed", "1") == 2
    assert "seed" in capsys.readouterr().err
