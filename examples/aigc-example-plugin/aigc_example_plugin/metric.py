"""A streaming metric: the L2 distance between the mean real and mean fake feature."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from aigc_sdk.interfaces import Evaluator


class MeanGap(Evaluator):
    """||mean(real) - mean(fake)||_2, accumulated in float64."""

    name = "example-mean-gap"
    higher_is_better: ClassVar[dict[str, bool]] = {"mean_gap": False}

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget all batches."""
        self._sums: dict[str, Tensor | None] = {"real": None, "fake": None}
        self._counts = {"real": 0, "fake": 0}

    def update(self, *, real: Tensor | None = None, fake: Tensor | None = None) -> None:
        """Add batches of features ``(N, D)``."""
        for key, x in (("real", real), ("fake", fake)):
            if x is None:
                continue
            x = torch.as_tensor(x).flatten(1).double()
            if not torch.isfinite(x).all():
                raise ValueError(f"{key} contains NaN or infinite values")
            prev = self._sums[key]
            if prev is not None and prev.shape[0] != x.shape[1]:
                raise ValueError(f"{key} has {x.shape[1]} features, expected {prev.shape[0]}")
            self._sums[key] = x.sum(0) if prev is None else prev + x.sum(0)
            self._counts[key] += x.shape[0]

    def compute(self) -> dict[str, float]:
        """Return ``{"mean_gap": value}``."""
        real, fake = self._sums["real"], self._sums["fake"]
        if real is None or fake is None:
            raise ValueError("update() needs both real and fake samples before compute()")
        gap = real / self._counts["real"] - fake / self._counts["fake"]
        return {"mean_gap": float(gap.norm())}
