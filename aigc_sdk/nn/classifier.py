"""A small image classifier and its cross-entropy training steps, for use-cases that train one on
the side (the ``classifier`` feature extractor of ``aigc_metrics``, the pseudo-labelling teacher
and evaluation CNN of ``aigc_augment``).

:class:`CNNClassifier` is two 3x3 conv + 2x2 max-pool stages, a ReLU hidden layer (the
*features*), dropout and a linear head, optionally after a fixed standardisation learnt from the
training data. :func:`train_classifier_steps` runs its optimisation steps in a
:class:`~aigc_sdk.training.FitLoop`, so they get the lifecycle hooks, divergence stop and
``request_stop`` of every other training in the SDK without changing what a seed trains.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from aigc_sdk.training import FitLoop

#: Hidden width of the MLP body used for shapes that are not images.
MLP_HIDDEN = 256


def is_classifier_image(sample_shape: Sequence[int]) -> bool:
    """Whether :class:`CNNClassifier` uses its conv body for ``sample_shape``: ``(C, H, W)`` with
    ``H, W >= 4`` (two 2x2 poolings; odd sides are floored)."""
    return len(sample_shape) == 3 and sample_shape[1] >= 4 and sample_shape[2] >= 4


class Standardize(nn.Module):
    """Fixed standardisation ``(x - mean) / std`` with ``mean`` and ``std`` buffers of ``shape``
    (broadcast over the batch: ``(1, C, 1, 1)`` per channel, ``(1, D)`` per column)."""

    mean: Tensor
    std: Tensor

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x: Tensor) -> Tensor:
        """Standardised ``x``."""
        return (x - self.mean) / self.std


class CNNClassifier(nn.Module):
    """Small classifier: ``norm -> body -> dropout -> head``.

    For images (:func:`is_classifier_image`) the body is ``conv(C->channels) - ReLU - pool -
    conv(channels->2*channels) - ReLU - pool - flatten - linear(feature_dim) - ReLU``; any other
    shape is flattened and gets ``linear(MLP_HIDDEN) - ReLU - linear(feature_dim) - ReLU``.

    Args:
        sample_shape: shape of one sample.
        num_classes: number of logits.
        channels: width of the first conv stage (the second has twice as many).
        feature_dim: width of the hidden layer whose activations :meth:`features` returns.
        dropout: dropout before the head (training only).
        standardize: put a :class:`Standardize` first (set it with :meth:`fit_standardization`);
            otherwise inputs go to the body unchanged.

    The modules are created (and so randomly initialised) in the order norm, body, head, and
    the state-dict keys are ``norm.*`` (with ``standardize``), ``body.*`` and ``head.*``: code
    that records weight hashes depends on both.
    """

    def __init__(
        self,
        sample_shape: Sequence[int],
        num_classes: int,
        *,
        channels: int = 16,
        feature_dim: int = 128,
        dropout: float = 0.25,
        standardize: bool = False,
    ) -> None:
        super().__init__()
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.is_image = is_classifier_image(self.sample_shape)
        self.norm: nn.Module
        if self.is_image:
            c, h, w = self.sample_shape
            self.norm = Standardize((1, c, 1, 1)) if standardize else nn.Identity()
            self.body = nn.Sequential(
                nn.Conv2d(c, channels, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(channels, channels * 2, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(channels * 2 * (h // 4) * (w // 4), feature_dim),
                nn.ReLU(),
            )
        else:
            d = math.prod(self.sample_shape)
            self.norm = Standardize((1, d)) if standardize else nn.Identity()
            self.body = nn.Sequential(
                nn.Flatten(),
                nn.Linear(d, MLP_HIDDEN),
                nn.ReLU(),
                nn.Linear(MLP_HIDDEN, feature_dim),
                nn.ReLU(),
            )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, num_classes)

    @torch.no_grad()
    def fit_standardization(self, x: Tensor) -> None:
        """Set the :class:`Standardize` buffers to the per-channel (images) or per-column mean and
        standard deviation (floored at 1e-6) of the training samples ``x``."""
        if not isinstance(self.norm, Standardize):
            raise ValueError("this CNNClassifier was built without standardize=True")
        dims = (0, 2, 3) if self.is_image else (0,)
        flat = x if self.is_image else x.reshape(x.shape[0], -1)
        self.norm.mean.copy_(flat.mean(dim=dims, keepdim=True).reshape(self.norm.mean.shape))
        self.norm.std.copy_(flat.std(dim=dims, keepdim=True).clamp_min(1e-6).reshape(self.norm.std.shape))

    def _prep(self, x: Tensor) -> Tensor:
        return self.norm(x if self.is_image else x.reshape(x.shape[0], -1))

    def features(self, x: Tensor) -> Tensor:
        """Hidden-layer activations ``(N, feature_dim)``."""
        return self.body(self._prep(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        return self.head(self.dropout(self.features(x)))


def train_classifier_steps(
    net: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    *,
    total: int | None = None,
    desc: str = "classifier",
    callbacks: Sequence[Any] = (),
    num_threads: int | None = None,
) -> FitLoop:
    """Train ``net`` with one cross-entropy step per ``(x, y)`` batch, in a
    :class:`~aigc_sdk.training.FitLoop` (``total``, ``desc``, ``callbacks``, ``num_threads`` are
    its options).

    Each step is zero-grad, backward, ``optimizer.step()`` then ``scheduler.step()`` (when
    given), and reports ``{"loss": ...}``; a NaN/inf loss raises
    :class:`~aigc_sdk.training.TrainingDivergedError`, and a callback's ``request_stop`` ends
    the training after the current step. ``batches`` is read lazily, one batch per step.

    Returns the finished loop (``step``, ``stop_reason``, ``last_metrics``). ``net`` is left in
    training mode.
    """
    from aigc_sdk.training import FitLoop  # aigc_sdk.training imports models built on aigc_sdk.nn

    net.train()
    loop = FitLoop(model=net, total=total, desc=desc, callbacks=callbacks, num_threads=num_threads)
    with contextlib.ExitStack() as stack:
        # Dropout draws from the global CPU RNG: the hooks run with it saved and restored, so a
        # callback or plugin that draws random numbers cannot change what the seed trains.
        with torch.random.fork_rng(devices=[]):
            stack.enter_context(loop)
        for xb, yb in batches:
            loss = F.cross_entropy(net(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            with torch.random.fork_rng(devices=[]):
                loop.end_step({"loss": loss.item()})
            if loop.should_stop:
                break
        with torch.random.fork_rng(devices=[]):
            stack.close()  # on_fit_end
    return loop
