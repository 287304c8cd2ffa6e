"""FitLoop gives use-case training the Trainer's hooks, progress, divergence stop and threads."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from aigc_sdk.hookspecs import hookimpl
from aigc_sdk.registry import Registry
from aigc_sdk.training import EarlyStopping, FitLoop, TrainingDivergedError


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_fit_start(self, trainer, model):  # type: ignore[no-untyped-def]
        self.calls.append(("start", trainer.step))

    def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
        self.calls.append(("step", step, dict(metrics)))

    def on_fit_end(self, trainer, model, metrics):  # type: ignore[no-untyped-def]
        self.calls.append(("end", dict(metrics)))


def test_callbacks_and_plugins_see_every_step(aigc_empty_registry: Registry) -> None:
    seen: list[int] = []

    class Plugin:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            seen.append(step)

    aigc_empty_registry.host.register(Plugin())
    rec, net = _Recorder(), torch.nn.Linear(2, 2)
    with FitLoop(model=net, total=3, callbacks=[rec]) as loop:
        for i in range(3):
            loop.end_step({"loss": 1.0 / (i + 1)})
    assert rec.calls[0] == ("start", 0) and rec.calls[-1] == ("end", {"loss": 1 / 3})
    assert [c[1] for c in rec.calls if c[0] == "step"] == [1, 2, 3]
    assert seen == [1, 2, 3] and loop.step == 3


def test_divergence_stops_with_a_named_metric_and_still_ends_the_fit() -> None:
    rec = _Recorder()
    diverged = pytest.raises(TrainingDivergedError, match=r"tvae: training diverged at step 2 \(loss=nan\)")
    with diverged, FitLoop(model=torch.nn.Linear(1, 1), desc="tvae", callbacks=[rec]) as loop:
        loop.end_step({"loss": 1.0})
        loop.end_step({"loss": math.nan})
    assert rec.calls[-1][0] == "end"
    too_big = pytest.raises(TrainingDivergedError, match="divergence_threshold")
    with too_big, FitLoop(model=torch.nn.Linear(1, 1), divergence_threshold=10.0) as loop:
        loop.end_step({"loss": 11.0})


def test_threads_are_set_for_the_fit_and_restored() -> None:
    before = torch.get_num_threads()
    with FitLoop(model=torch.nn.Linear(1, 1), num_threads=1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads must be a positive int"):
        FitLoop(model=torch.nn.Linear(1, 1), num_threads=0)


def test_early_stopping_asks_the_loop_to_stop() -> None:
    stopper = EarlyStopping("loss", patience=2, min_delta=1e9)
    with FitLoop(model=torch.nn.Linear(1, 1), callbacks=[stopper]) as loop:
        for _ in range(10):
            loop.end_step({"loss": 1.0})
            if loop.should_stop:
                break
    assert loop.step == 3 and "did not improve" in (loop.stop_reason or "")
