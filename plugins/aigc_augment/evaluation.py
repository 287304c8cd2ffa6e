"""Augmentation lift: test accuracy of the small CNN trained with and without synthetic / affine data."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from aigc_augment.classifier import accuracy, train_classifier

#: Variant name -> (use synthetic images, use random affine augmentation).
VARIANTS: dict[str, tuple[bool, bool]] = {
    "real": (False, False),
    "real+synthetic": (True, False),
    "real+affine": (False, True),
    "real+affine+synthetic": (True, True),
}


def augmentation_lift(
    real: tuple[Tensor, Tensor],
    synthetic: tuple[Tensor, Tensor] | None,
    test: tuple[Tensor, Tensor],
    *,
    num_classes: int,
    steps: int = 600,
    seed: int = 0,
    variants: tuple[str, ...] = tuple(VARIANTS),
    extra: dict[str, tuple[Tensor, Tensor]] | None = None,
) -> dict[str, Any]:
    """Train one :class:`~aigc_augment.classifier.SmallCNN` per variant and score it on ``test``.

    Every variant gets the same seed and the same number of steps, so only the training data
    differs. ``extra`` adds named training sets (e.g. an ablation) scored the same way.

    Returns:
        ``{"accuracy": {variant: acc}, "seconds": {variant: s}, "lift": acc(real+synthetic) - acc(real)}``.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    x, y = real
    acc: dict[str, float] = {}
    secs: dict[str, float] = {}
    runs: list[tuple[str, Tensor, Tensor, bool]] = []
    for name in variants:
        use_syn, use_affine = VARIANTS[name]
        if use_syn:
            if synthetic is None:
                continue
            xs, ys = synthetic
            runs.append((name, torch.cat([x, xs]), torch.cat([y, ys]), use_affine))
        else:
            runs.append((name, x, y, use_affine))
    for name, (xe, ye) in (extra or {}).items():
        runs.append((name, xe, ye, False))
    for name, xt, yt, use_affine in runs:
        t0 = time.perf_counter()
        model = train_classifier(xt, yt, num_classes=num_classes, steps=steps, affine=use_affine, seed=seed)
        acc[name] = round(accuracy(model, *test), 4)
        secs[name] = round(time.perf_counter() - t0, 1)
    out: dict[str, Any] = {"accuracy": acc, "seconds": secs, "classifier_steps": steps}
    if "real" in acc and "real+synthetic" in acc:
        out["lift"] = round(acc["real+synthetic"] - acc["real"], 4)
    return out
