"""Directory-level atomic saves (aigc_sdk.io.atomic_write_dir and everything built on it):
a reader sees the old save or the new one, never a mix, and a kill at any moment leaves a
directory that loads."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import aigc_sdk
from aigc_sdk.io import (
    atomic_write_dir,
    load_artifact,
    old_dir_path,
    recover_dir,
    save_artifact,
    save_model,
)

CHILD = Path(__file__).with_name("_save_child.py")
KILLS = 36


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _art(directory: Path, i: int) -> None:
    save_artifact(directory, {"w": torch.full((3,), float(i))}, {"format": "demo/1", "i": i})


def _check_art(directory: Path) -> int:
    config, tensors = load_artifact(directory, "demo/1", "demo")
    assert torch.all(tensors["w"] == float(config["i"])), "weights of one save beside the config of another"
    return int(config["i"])


def test_save_replaces_the_whole_directory_and_keeps_user_files(tmp_path: Path) -> None:
    target = tmp_path / "a"
    _art(target, 1)
    (target / "NOTES.txt").write_text("mine")
    _art(target, 2)
    assert _check_art(target) == 2
    assert (target / "NOTES.txt").read_text() == "mine"  # files the save does not write survive
    assert _hidden(tmp_path) == []


def test_a_failing_save_leaves_the_old_directory_and_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "a"
    _art(target, 1)

    def half_then_fail(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_dir(target, half_then_fail)
    assert _check_art(target) == 1
    assert _hidden(tmp_path) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        atomic_write_dir(tmp_path / "file", lambda tmp: None)


def test_a_kill_between_the_two_renames_is_recovered_by_load_and_by_save(tmp_path: Path) -> None:
    target = tmp_path / "a"
    _art(target, 1)
    # What a process killed between "target -> .a.old" and "tmp -> target" leaves behind:
    os.rename(target, old_dir_path(target))
    (tmp_path / ".a.tmp-999999999-deadbeef").mkdir()  # the (dead) saver's temporary
    assert _check_art(target) == 1  # load restores the old save
    assert target.is_dir() and not old_dir_path(target).exists()
    os.rename(target, old_dir_path(target))
    _art(target, 2)  # a save recovers too, then cleans the dead saver's temporary
    assert _check_art(target) == 2
    assert _hidden(tmp_path) == []
    # killed after the swap, before deleting the old one: the new save is in place, .old is stale
    stale = old_dir_path(target)
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    assert _check_art(target) == 2 and recover_dir(target) == target
    _art(target, 3)
    assert _hidden(tmp_path) == []


def test_a_kill_mid_save_model_is_recovered(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("ae", data_shape=[6], hidden=8, latent_dim=2)
    save_model(model, tmp_path / "m", name="ae")
    os.rename(tmp_path / "m", old_dir_path(tmp_path / "m"))
    loaded = aigc_sdk.load(tmp_path / "m")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_stray_file_temporaries_of_dead_writers_are_cleaned(tmp_path: Path) -> None:
    from aigc_sdk.io import atomic_write_text

    (tmp_path / ".report.json.999999999-abc123.tmp").write_text("half")
    atomic_write_text(tmp_path / "report.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def _expect(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(prefix), f"save child said {line!r}, expected {prefix!r}"
    return line


def test_sigkill_during_repeated_saves_never_leaves_a_torn_directory(tmp_path: Path) -> None:
    """SIGKILL processes saving a model and an artifact in a loop; every directory must load."""
    rng = random.Random(7)
    root = tmp_path / "saves"
    root.mkdir()
    err = (tmp_path / "child.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdin is not None
    torn: list[str] = []
    loaded = 0
    try:
        _expect(proc, "ready")
        for kill in range(KILLS):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            pid = int(_expect(proc, ""))
            time.sleep(rng.uniform(0.02, 0.25))
            os.kill(pid, signal.SIGKILL)
            code = int(_expect(proc, "done").split()[1])
            assert code == -signal.SIGKILL, f"save loop failed on its own (exit {code}): see {err.name}"
            for name in ("model", "artifact"):
                directory = root / name
                if not directory.exists() and not old_dir_path(directory).exists():
                    continue  # killed before its first save
                try:
                    if name == "model":
                        m = aigc_sdk.load(directory)
                        values = {float(v) for p in m.parameters() for v in p.detach().flatten()}
                        assert len(values) == 1, "a model mixing two saves"
                    else:
                        _check_art(directory)
                    loaded += 1
                except Exception as exc:  # count every way a directory fails to load
                    torn.append(f"kill {kill} {name}: {type(exc).__name__}: {exc}")
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        err.close()
    assert torn == [], f"{len(torn)} torn directories: {torn[:3]}"
    assert loaded >= KILLS, "too few kills landed after a first save"
    # Stray temporaries of the killed savers are cleaned at the next save.
    _art(root / "artifact", 1)
    torch.manual_seed(0)
    save_model(aigc_sdk.create_model("ae", data_shape=[6], hidden=8, latent_dim=2), root / "model", name="ae")
    assert _hidden(root) == []
