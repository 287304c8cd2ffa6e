"""SIGKILL a training process at random moments (mostly mid-checkpoint, since it checkpoints
every step); the newest checkpoint must always load and training must resume from it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import aigc_sdk
from aigc_sdk.training import list_checkpoints, load_checkpoint

CHILD = Path(__file__).with_name("_crash_child.py")
KILLS = 8
BUDGET_S = 120.0


def _start(out: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("started"), f"child failed to start: {line!r}"
    return proc, int(line.split()[1])


def _check_all_complete(root: Path) -> int:
    found = list_checkpoints(root)
    assert found, "no checkpoint survived"
    for _, path in found:
        assert {p.name for p in path.iterdir()} == {
            "config.json",
            "model.safetensors",
            "optim.safetensors",
            "trainer_state.json",
        }
    newest = found[-1][1]
    load_checkpoint(newest)
    aigc_sdk.load(newest)
    return found[-1][0]


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_checkpoints(tmp_path) -> None:
    rng = random.Random(1234)
    root = tmp_path / "checkpoints"
    last_step, t0, kills = 0, time.monotonic(), 0
    while kills < KILLS and time.monotonic() - t0 < BUDGET_S:
        proc, resumed_from = _start(tmp_path)
        # Resumes from exactly the newest checkpoint the previous victim left behind.
        assert resumed_from == last_step
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        kills += 1
        if list_checkpoints(root):
            step = _check_all_complete(root)
            assert step >= last_step
            last_step = step
    assert kills >= 3, "too few kills inside the time budget"
    assert last_step > 0
    # Leftover temporary directories are cleaned on the next start.
    proc, resumed_from = _start(tmp_path)
    assert resumed_from == last_step
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stdout:
        proc.stdout.close()
    _check_all_complete(root)
