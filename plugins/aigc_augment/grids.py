"""Seeded batch generation to PNG grids (one row per class for class-conditional models)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor


def sample_grid(
    model: Any,
    path: str | os.PathLike[str],
    *,
    per_class: int = 8,
    n: int | None = None,
    seed: int = 0,
) -> tuple[Tensor, Tensor | None, Path]:
    """Draw a seeded batch from ``model`` and write it as one PNG grid (atomically).

    A class-conditional model gets ``per_class`` samples of each class, one row per class;
    an unconditional one gets ``n`` samples (default 64). The same seed gives the same PNG.

    Returns:
        ``(images, labels or None, path)``.
    """
    from aigc_sdk.io import save_image_grid

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    num_classes = getattr(model, "num_classes", None)
    gen = torch.Generator().manual_seed(seed)
    if num_classes:
        if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class <= 0:
            raise ValueError(f"per_class must be a positive int, got {per_class!r}")
        labels: Tensor | None = torch.arange(num_classes).repeat_interleave(per_class)
        assert labels is not None
        images = model.sample(labels.shape[0], generator=gen, condition=labels)
        nrow = per_class
    else:
        count = 64 if n is None else n
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise ValueError(f"n must be a positive int, got {count!r}")
        labels = None
        images = model.sample(count, generator=gen)
        nrow = None
    if images.ndim != 4:
        raise ValueError(f"a PNG grid needs image samples, this model gives shape {tuple(images.shape)}")
    images = images.detach().cpu().clamp(0, 1)
    return images, labels, save_image_grid(images, path, nrow=nrow)
