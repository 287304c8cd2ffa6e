"""The recommender trains each network in a FitLoop: callbacks and installed plugins get the
lifecycle hooks, callbacks can stop a training, and a NaN loss raises TrainingDivergedError."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from aigc_recommend.networks import MultNet
from aigc_recommend.recommender import Recommender
from aigc_sdk import hookimpl
from aigc_sdk.registry import Registry
from aigc_sdk.training import TrainingDivergedError
from tests.plugins.aigc_recommend.test_recommender import FAST, block_matrix, split_heldout

QUICK = {**FAST, "epochs": 3}
USERS = 160
STEPS = 3 * math.ceil(USERS / 64)  # epochs * batches per epoch


class Recorder:
    """Records every lifecycle call as ``(hook, detail)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        self.calls.append(("start", (trainer.desc, trainer.steps, isinstance(model, MultNet))))

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: dict[str, float]) -> None:
        self.calls.append(("step", (step, dict(metrics))))

    def on_fit_end(self, trainer: Any, model: Any, metrics: dict[str, float]) -> None:
        self.calls.append(("end", dict(metrics)))


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    mat = block_matrix()
    return {"train": mat[:USERS], "val": split_heldout(mat[USERS:200])}


def test_callback_sees_each_member_fit_and_its_steps(data: dict[str, Any]) -> None:
    rec = Recorder()
    Recommender(**{**QUICK, "ensemble": 2, "dae_members": 1}).fit(data["train"], callbacks=[rec])
    starts = [detail for hook, detail in rec.calls if hook == "start"]
    assert starts == [
        ("recommend multvae 1/3", STEPS, True),
        ("recommend multvae 2/3", STEPS, True),
        ("recommend multdae 3/3", STEPS, True),
    ]
    assert [hook for hook, _ in rec.calls] == (["start"] + ["step"] * STEPS + ["end"]) * 3
    steps = [detail for hook, detail in rec.calls if hook == "step"]
    assert [s for s, _ in steps] == list(range(1, STEPS + 1)) * 3
    assert all(set(m) == {"loss"} and math.isfinite(m["loss"]) for _, m in steps)
    assert rec.calls[-1] == ("end", steps[-1][1])  # on_fit_end gets the last step's metrics


def test_callbacks_do_not_change_the_seeded_fit(data: dict[str, Any]) -> None:
    plain = Recommender(**QUICK).fit(data["train"], validation=data["val"])
    watched = Recommender(**QUICK).fit(data["train"], validation=data["val"], callbacks=[Recorder()])
    fold = data["val"][0]
    assert np.array_equal(plain.score_matrix(fold), watched.score_matrix(fold))
    assert plain.report()["best_epoch"] == watched.report()["best_epoch"]
    assert "member_stop_reasons" not in watched.report()


def test_installed_plugin_sees_the_steps(data: dict[str, Any], aigc_empty_registry: Registry) -> None:
    seen: list[tuple[str, int]] = []

    class Plugin:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            seen.append((trainer.desc, step))

    aigc_empty_registry.host.register(Plugin())
    Recommender(**QUICK).fit(data["train"])
    assert seen == [("recommend multvae", s) for s in range(1, STEPS + 1)]


def test_a_callback_can_stop_a_training_and_the_best_epoch_is_kept(data: dict[str, Any]) -> None:
    class StopInEpochTwo(Recorder):
        def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: dict[str, float]) -> None:
            super().on_train_step_end(trainer, model, step, metrics)
            if step == math.ceil(USERS / 64) + 1:  # the first step of epoch 2
                trainer.request_stop("enough")

    rec = StopInEpochTwo()
    fitted = Recommender(**{**QUICK, "epochs": 10})
    fitted.fit(data["train"], validation=data["val"], callbacks=[rec])
    report = fitted.report()
    assert len([h for h, _ in rec.calls if h == "step"]) == math.ceil(USERS / 64) + 1
    assert report["best_epoch"] in (1, 2) and report["member_stop_reasons"] == ["enough"]
    assert math.isfinite(report["validation_ndcg@100"])


def test_a_nan_loss_raises_training_diverged(data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real_loss = MultNet.loss
    calls = {"n": 0}

    def loss(self: MultNet, x: torch.Tensor, beta: float, generator: Any = None) -> torch.Tensor:
        calls["n"] += 1
        out = real_loss(self, x, beta, generator=generator)
        return out * math.nan if calls["n"] == 4 else out

    monkeypatch.setattr(MultNet, "loss", loss)
    rec = Recorder()
    diverged = pytest.raises(
        TrainingDivergedError, match=r"recommend multvae: .* at step 4 \(loss=nan\); .*lower lr"
    )
    with diverged as info:
        Recommender(**QUICK).fit(data["train"], callbacks=[rec])
    assert info.value.step == 4 and math.isnan(info.value.metrics["loss"])
    assert rec.calls[-1][0] == "end"  # the fit still ends for the hooks, as with the Trainer
