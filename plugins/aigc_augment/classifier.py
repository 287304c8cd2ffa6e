"""The small two-convolution CNN used to pseudo-label unlabelled images and to score augmentation.

Training is seeded and runs inside :func:`torch.random.fork_rng`, so it is reproducible and
leaves the caller's global RNG untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_augment.affine import random_affine
from aigc_sdk.nn import CNNClassifier, train_classifier_steps


class SmallCNN(CNNClassifier):
    """:class:`~aigc_sdk.nn.CNNClassifier` with ``channels`` and ``2 * channels`` conv channels, a
    ``hidden``-wide hidden layer, dropout 0.3 and no input standardisation.

    Works for square images whose side is divisible by 4 (8x8 digits, 28x28 MNIST, ...).
    """

    def __init__(
        self, sample_shape: tuple[int, ...], num_classes: int, channels: int = 32, hidden: int = 128
    ):
        if len(sample_shape) != 3 or sample_shape[1] % 4 or sample_shape[2] % 4:
            raise ValueError(f"SmallCNN needs (C, H, W) images with H, W divisible by 4, got {sample_shape}")
        super().__init__(sample_shape, num_classes, channels=channels, feature_dim=hidden, dropout=0.3)


def train_classifier(
    x: Tensor,
    y: Tensor,
    *,
    num_classes: int,
    steps: int = 1000,
    batch_size: int = 64,
    lr: float = 1e-3,
    affine: bool = False,
    seed: int = 0,
    channels: int = 32,
    desc: str = "augment: classifier",
    callbacks: Sequence[Any] = (),
) -> SmallCNN:
    """Train a :class:`SmallCNN` on ``(x, y)`` for a fixed number of Adam steps.

    A fixed step budget (rather than epochs) gives every training set the same compute, so
    a larger (augmented) set is not favoured by more updates. ``affine=True`` applies
    :func:`~aigc_augment.affine.random_affine` to every batch (classic augmentation).

    The steps run in a :class:`~aigc_sdk.training.FitLoop` labelled ``desc``: ``callbacks`` and
    installed plugins get the lifecycle hooks (each step reports ``{"loss": ...}``), a NaN loss
    raises :class:`~aigc_sdk.training.TrainingDivergedError`, and ``request_stop`` ends the
    training early.
    """
    if x.ndim != 4 or y.shape != (x.shape[0],):
        raise ValueError(
            f"need images (N, C, H, W) and labels (N,), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(tuple(x.shape[1:]), num_classes, channels=channels)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        # Cosine decay to zero: the last steps settle instead of bouncing on a noisy batch.
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
        gen = torch.Generator().manual_seed(seed + 1)
        n = x.shape[0]
        batch_size = min(batch_size, n)

        def batches() -> Iterator[tuple[Tensor, Tensor]]:
            order = np.random.default_rng(seed).permutation(n)
            pos = 0
            for step in range(steps):
                if pos + batch_size > n:
                    order, pos = np.random.default_rng([seed, step]).permutation(n), 0
                idx = torch.from_numpy(order[pos : pos + batch_size])
                pos += batch_size
                xb, yb = x[idx], y[idx]
                yield (random_affine(xb, generator=gen) if affine else xb), yb

        train_classifier_steps(model, batches(), opt, sched, total=steps, desc=desc, callbacks=callbacks)
    return model.eval()


@torch.no_grad()
def predict_proba(model: nn.Module, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Class probabilities ``(N, K)`` in eval mode."""
    model.eval()
    parts = [F.softmax(model(x[i : i + batch_size]), dim=1) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(parts) if parts else torch.empty(0)


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` classified as ``y``."""
    return float((predict_proba(model, x).argmax(1) == y).float().mean())
