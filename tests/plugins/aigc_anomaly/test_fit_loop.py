"""The detector trains its networks in a FitLoop: callbacks and installed plugins get the
lifecycle hooks, callbacks can stop a training, and a NaN loss raises TrainingDivergedError."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from aigc_anomaly.detector import Detector
from aigc_anomaly.networks import TabularAutoEncoder
from aigc_sdk import hookimpl
from aigc_sdk.registry import Registry
from aigc_sdk.training import TrainingDivergedError
from tests.plugins.aigc_anomaly.test_detector import cluster_with_outliers

FAST = {"epochs": 2, "hidden": (8,), "latent_dim": 2, "batch_size": 128}


class Recorder:
    """Records every lifecycle call as ``(hook, detail)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        self.calls.append(("start", (trainer.desc, trainer.steps, isinstance(model, torch.nn.Module))))

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: dict[str, float]) -> None:
        self.calls.append(("step", (step, dict(metrics))))

    def on_fit_end(self, trainer: Any, model: Any, metrics: dict[str, float]) -> None:
        self.calls.append(("end", dict(metrics)))


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return cluster_with_outliers(n=300, n_out=15, d=4)[0]


def _runs(calls: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Split the recorded calls into one list per fit (start ... end)."""
    runs: list[list[tuple[str, Any]]] = []
    for call in calls:
        if call[0] == "start":
            runs.append([])
        runs[-1].append(call)
    return runs


def test_callback_sees_each_network_fit_and_its_steps(x: np.ndarray) -> None:
    rec = Recorder()
    det = Detector("ae", **FAST).fit(x, callbacks=[rec])
    first, refit = _runs(rec.calls)  # trim > 0: the first fit, then the refit on the kept rows
    steps_first = 2 * math.ceil(len(x) / 128)
    steps_refit = 2 * math.ceil(det.report()["n_kept_for_refit"] / 128)
    assert first[0] == ("start", ("anomaly ae: fit", steps_first, True))
    assert refit[0] == ("start", ("anomaly ae: refit", steps_refit, True))
    for run, n in ((first, steps_first), (refit, steps_refit)):
        steps = [detail for hook, detail in run if hook == "step"]
        assert [s for s, _ in steps] == list(range(1, n + 1))
        assert all(set(m) == {"loss"} and math.isfinite(m["loss"]) for _, m in steps)
        assert run[-1] == ("end", steps[-1][1])  # on_fit_end gets the last step's metrics


def test_callbacks_do_not_change_the_seeded_fit(x: np.ndarray) -> None:
    plain = Detector("vae", **FAST).fit(x)
    watched = Detector("vae", **FAST).fit(x, callbacks=[Recorder()])
    assert np.array_equal(plain.score(x), watched.score(x))


def test_installed_plugin_sees_the_steps(x: np.ndarray, aigc_empty_registry: Registry) -> None:
    seen: list[tuple[str, int]] = []

    class Plugin:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            seen.append((trainer.desc, step))

    aigc_empty_registry.host.register(Plugin())
    Detector("ae", **{**FAST, "trim": 0.0}).fit(x)
    assert seen == [("anomaly ae: fit", s) for s in range(1, 2 * math.ceil(len(x) / 128) + 1)]


def test_a_callback_can_stop_each_training(x: np.ndarray) -> None:
    class StopAtTwo(Recorder):
        def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: dict[str, float]) -> None:
            super().on_train_step_end(trainer, model, step, metrics)
            if step == 2:
                trainer.request_stop("enough")

    rec = StopAtTwo()
    det = Detector("ae", **FAST).fit(x, callbacks=[rec])
    for run in _runs(rec.calls):
        assert [d[0] for h, d in run if h == "step"] == [1, 2]
    assert math.isfinite(det.report()["loss_first_fit"]) and det.score(x).shape == (len(x),)


def test_a_nan_loss_raises_training_diverged(x: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    real_loss = TabularAutoEncoder.loss
    calls = {"n": 0}

    def loss(self: TabularAutoEncoder, xb: torch.Tensor, generator: Any = None) -> torch.Tensor:
        calls["n"] += 1
        out = real_loss(self, xb, generator=generator)
        return out * math.nan if calls["n"] == 3 else out

    monkeypatch.setattr(TabularAutoEncoder, "loss", loss)
    rec = Recorder()
    diverged = pytest.raises(TrainingDivergedError, match=r"anomaly ae: fit: .* at step 3 \(loss=nan\)")
    with diverged:
        Detector("ae", **FAST).fit(x, callbacks=[rec])
    assert rec.calls[-1][0] == "end"  # the fit still ends for the hooks, as with the Trainer
    with pytest.raises(TrainingDivergedError, match="scaling='robust' or a lower lr") as info:
        calls["n"] = 0
        Detector("ae", **FAST).fit(x)
    assert info.value.step == 3 and math.isnan(info.value.metrics["loss"])
