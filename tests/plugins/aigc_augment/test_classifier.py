"""The augment CNN: the shared aigc_sdk.nn.CNNClassifier with the layout (and so the training)
it had before, trained in a FitLoop (callbacks, plugin hooks, request_stop, divergence stop)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from aigc_augment.classifier import SmallCNN, predict_proba, train_classifier
from aigc_sdk import hookimpl
from aigc_sdk.nn import CNNClassifier
from aigc_sdk.registry import Registry
from aigc_sdk.training import TrainingDivergedError
from tests.plugins.aigc_augment.conftest import FAST


class Recorder:
    """Records every lifecycle call as ``(hook, detail)``; ``noisy`` also draws random numbers."""

    def __init__(self, noisy: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.noisy = noisy

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        self.calls.append(("start", (trainer.desc, trainer.steps, isinstance(model, SmallCNN))))

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: dict[str, float]) -> None:
        if self.noisy:
            torch.rand(3)
        self.calls.append(("step", (step, dict(metrics))))

    def on_fit_end(self, trainer: Any, model: Any, metrics: dict[str, float]) -> None:
        self.calls.append(("end", dict(metrics)))


def _old_small_cnn(
    c: int, h: int, w: int, num_classes: int, channels: int = 32, hidden: int = 128
) -> nn.Module:
    """SmallCNN as it was written before it moved to aigc_sdk.nn (one Sequential)."""
    return nn.Sequential(
        nn.Conv2d(c, channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(channels, channels * 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 2 * (h // 4) * (w // 4), 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, num_classes),
    )


def test_small_cnn_is_the_shared_classifier_with_the_old_init_and_outputs() -> None:
    torch.manual_seed(2)
    old = _old_small_cnn(1, 8, 8, 10)
    torch.manual_seed(2)
    new = SmallCNN((1, 8, 8), 10)
    assert isinstance(new, CNNClassifier)
    assert list(new.state_dict()) == [
        *(f"body.{i}.{p}" for i in (0, 3, 7) for p in ("weight", "bias")),
        "head.weight",
        "head.bias",
    ]  # no standardisation buffers
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    x = torch.rand(5, 1, 8, 8)
    torch.manual_seed(4)  # training mode: the dropout masks are drawn alike too
    out_old = old.train()(x)
    torch.manual_seed(4)
    assert torch.equal(out_old, new.train()(x))
    with pytest.raises(ValueError, match="divisible by 4"):
        SmallCNN((1, 6, 6), 10)


def test_callbacks_see_the_steps_and_do_not_change_the_training(digits) -> None:  # type: ignore[no-untyped-def]
    (x, y), _, (xt, _) = digits
    plain = train_classifier(x, y, num_classes=10, steps=12, affine=True, seed=1)
    rec = Recorder(noisy=True)
    watched = train_classifier(
        x, y, num_classes=10, steps=12, affine=True, seed=1, desc="teach", callbacks=[rec]
    )
    assert torch.equal(predict_proba(plain, xt), predict_proba(watched, xt))
    assert rec.calls[0] == ("start", ("teach", 12, True))
    steps = [d for h, d in rec.calls if h == "step"]
    assert [s for s, _ in steps] == list(range(1, 13))
    assert all(set(m) == {"loss"} and math.isfinite(m["loss"]) for _, m in steps)
    assert rec.calls[-1] == ("end", steps[-1][1])


def test_a_callback_can_stop_the_training(digits) -> None:  # type: ignore[no-untyped-def]
    class StopAtThree(Recorder):
        def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: dict[str, float]) -> None:
            super().on_train_step_end(trainer, model, step, metrics)
            if step == 3:
                trainer.request_stop("enough")

    (x, y), _, _ = digits
    rec = StopAtThree()
    model = train_classifier(x, y, num_classes=10, steps=50, callbacks=[rec])
    assert [d[0] for h, d in rec.calls if h == "step"] == [1, 2, 3] and not model.training


def test_a_nan_loss_raises_training_diverged(digits, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    real_forward = SmallCNN.forward
    calls = {"n": 0}

    def forward(self: SmallCNN, x: Tensor) -> Tensor:
        calls["n"] += 1
        out = real_forward(self, x)
        return out * math.nan if calls["n"] == 2 else out

    monkeypatch.setattr(SmallCNN, "forward", forward)
    (x, y), _, _ = digits
    rng = torch.get_rng_state()
    with pytest.raises(TrainingDivergedError, match=r"augment: classifier: .* at step 2 \(loss=nan\)"):
        train_classifier(x, y, num_classes=10, steps=10)
    assert torch.equal(torch.get_rng_state(), rng)  # the seeded fork is left even on failure


def test_installed_plugin_sees_the_teacher_steps(digits, aigc_registry: Registry) -> None:  # type: ignore[no-untyped-def]
    from aigc_augment.augmenter import Augmenter

    seen: list[tuple[str, int]] = []

    class Plugin:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            if isinstance(model, SmallCNN):
                seen.append((trainer.desc, step))

    aigc_registry.host.register(Plugin())
    labelled, unlabelled, _ = digits
    Augmenter(seed=0, **FAST).fit(labelled, unlabelled=unlabelled)
    assert seen == [("augment: classifier", s) for s in range(1, FAST["teacher_steps"] + 1)]
