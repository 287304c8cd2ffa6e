"""Input validation shared by the metrics: clear ``ValueError``s instead of NaN results."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


def as_matrix(x: Any, arg: str, *, dtype: torch.dtype = torch.float64, min_rows: int = 1) -> Tensor:
    """Return ``x`` as a finite 2-D CPU tensor ``(N, D)`` of ``dtype``.

    Raises ``ValueError`` naming ``arg`` when ``x`` is not 2-D, has fewer than ``min_rows``
    rows, no columns, or contains NaN/inf.
    """
    if x is None:
        raise ValueError(f"{arg} is required")
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
    if t.ndim != 2:
        raise ValueError(f"{arg} must be a 2-D array (N, D) of features, got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise ValueError(f"{arg} needs at least {min_rows} rows, got {t.shape[0]}")
    if t.shape[1] == 0:
        raise ValueError(f"{arg} has no feature columns (shape {tuple(t.shape)})")
    t = t.detach().to(device="cpu", dtype=dtype)
    if not torch.isfinite(t).all():
        raise ValueError(f"{arg} contains NaN or infinite values")
    return t


def check_same_dim(a: Tensor, b: Tensor, arg_a: str, arg_b: str) -> None:
    """Raise ``ValueError`` if ``a`` and ``b`` have different feature sizes."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {arg_a} has {a.shape[1]} columns, {arg_b} has {b.shape[1]}")


def check_k(k: Any, arg: str = "k") -> int:
    """Validate a neighbour count."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{arg} must be a positive int, got {k!r}")
    return k
