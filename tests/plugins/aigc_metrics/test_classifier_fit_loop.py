"""The classifier extractor trains in a FitLoop: installed plugins see its steps, hooks cannot
change its weights, a NaN loss raises TrainingDivergedError; its network is the shared
aigc_sdk.nn.CNNClassifier with the layout (and so the weights) it had before."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from aigc_metrics.classifier import ClassifierExtractor, ClassifierNet
from aigc_sdk import hookimpl
from aigc_sdk.nn import CNNClassifier
from aigc_sdk.registry import Registry
from aigc_sdk.training import TrainingDivergedError


class _Steps:
    """A plugin recording the lifecycle calls; ``noisy`` also draws from the global RNG."""

    def __init__(self, noisy: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.noisy = noisy

    def _draw(self) -> None:
        if self.noisy:
            torch.rand(7)

    @hookimpl
    def on_fit_start(self, trainer, model):  # type: ignore[no-untyped-def]
        self._draw()
        self.calls.append(("start", (trainer.desc, trainer.steps)))

    @hookimpl
    def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
        self._draw()
        self.calls.append(("step", (step, dict(metrics))))

    @hookimpl
    def on_fit_end(self, trainer, model, metrics):  # type: ignore[no-untyped-def]
        self._draw()
        self.calls.append(("end", None))


def test_installed_plugin_sees_every_training_step(aigc_registry: Registry) -> None:
    plugin = _Steps()
    aigc_registry.host.register(plugin)
    clf = ClassifierExtractor("digits", epochs=1, cache=False)
    n_train = len(__import__("aigc_sdk").load_dataset("digits").load("train"))
    steps = math.ceil(n_train / 64)
    assert plugin.calls[0] == ("start", ("classifier digits", steps))
    assert [h for h, _ in plugin.calls] == ["start"] + ["step"] * steps + ["end"]
    losses = [d[1]["loss"] for h, d in plugin.calls if h == "step"]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert clf.name.startswith("classifier-digits-")


def test_hooks_that_draw_random_numbers_leave_the_weights_alone(aigc_registry: Registry) -> None:
    plain = ClassifierExtractor("digits", epochs=1, cache=False).weights_sha256
    aigc_registry.host.register(_Steps(noisy=True))
    rng = torch.get_rng_state()
    assert ClassifierExtractor("digits", epochs=1, cache=False).weights_sha256 == plain
    assert torch.equal(torch.get_rng_state(), rng)


def test_a_nan_loss_raises_training_diverged_and_restores_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    real_forward = ClassifierNet.forward
    calls = {"n": 0}

    def forward(self: ClassifierNet, x: Tensor) -> Tensor:
        calls["n"] += 1
        out = real_forward(self, x)
        return out * math.nan if calls["n"] == 5 else out

    monkeypatch.setattr(ClassifierNet, "forward", forward)
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with pytest.raises(TrainingDivergedError, match=r"classifier digits: .* at step 5 \(loss=nan\)"):
        ClassifierExtractor("digits", epochs=1, cache=False)
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det


class _OldClassifierNet(nn.Module):
    """The extractor's image network as it was written before it moved to aigc_sdk.nn."""

    def __init__(self, sample_shape: tuple[int, ...], num_classes: int, feature_dim: int = 128) -> None:
        super().__init__()
        c, h, w = sample_shape
        self.norm = nn.Module()
        self.norm.register_buffer("mean", torch.zeros(1, c, 1, 1))
        self.norm.register_buffer("std", torch.ones(1, c, 1, 1))
        self.body = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * (h // 4) * (w // 4), feature_dim),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.25)
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = (x - self.norm.mean) / self.norm.std
        return self.head(self.dropout(self.body(x)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 6, 6), (3, 28, 28)])
def test_the_shared_network_has_the_old_layout_init_and_outputs(shape: tuple[int, ...]) -> None:
    torch.manual_seed(5)
    old = _OldClassifierNet(shape, 10)
    torch.manual_seed(5)
    new = ClassifierNet(shape, 10)
    assert isinstance(new, CNNClassifier)
    old_state, new_state = old.state_dict(), new.state_dict()
    assert list(old_state) == list(new_state)  # same keys in the same order: same weight hash
    assert all(torch.equal(old_state[k], new_state[k]) for k in old_state)
    x = torch.rand(4, *shape)
    torch.manual_seed(9)  # training mode: the dropout masks are drawn alike too
    out_old = old.train()(x)
    torch.manual_seed(9)
    assert torch.equal(out_old, new.train()(x))
