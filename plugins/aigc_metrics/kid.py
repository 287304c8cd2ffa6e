"""Kernel Inception Distance: the unbiased MMD^2 estimate with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3, averaged over seeded random subsets.

Subsets are smaller than the sample (by default ``min(1000, n // 2)`` rows with ``n`` the
smaller side), so they differ from one another and ``kid_std`` measures the estimate's
spread; subsets as large as the whole set would all be equal and give ``kid_std = 0``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from aigc_metrics._checks import as_matrix, check_same_dim
from aigc_metrics.base import BufferedFeatureEvaluator, ExtractorLike


def polynomial_mmd2_unbiased(
    x: Tensor, y: Tensor, *, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> float:
    """Unbiased MMD^2 between samples ``x (m, d)`` and ``y (n, d)`` (float64).

    Kernel ``(gamma x.y + coef0)^degree`` with ``gamma = 1/d`` by default. The within-set
    sums leave out the diagonal (i = j), which is what makes the estimate unbiased.
    """
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"unbiased MMD needs at least 2 samples per set, got {m} and {n}")
    g = 1.0 / x.shape[1] if gamma is None else gamma
    kxx = (x @ x.T * g + coef0) ** degree
    kyy = (y @ y.T * g + coef0) ** degree
    kxy = (x @ y.T * g + coef0) ** degree
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


#: Largest default subset (as in the KID paper's reference code).
MAX_SUBSET_SIZE = 1000


def default_subset_size(n: int) -> int:
    """``max(2, min(1000, n // 2))`` for ``n`` samples on the smaller side."""
    return max(2, min(MAX_SUBSET_SIZE, n // 2))


def kid(
    real: Any, fake: Any, *, subsets: int = 100, subset_size: int | None = None, seed: int = 0
) -> tuple[float, float]:
    """KID mean and std (ddof=0) over ``subsets`` random subsets.

    Each subset has ``m = min(subset_size, n)`` rows (``n``: the smaller of the two sample
    counts); ``subset_size=None`` (the default) uses :func:`default_subset_size`, i.e.
    ``min(1000, n // 2)``, so subsets differ and the std is meaningful. Each subset draws,
    without replacement, from ``real`` and from ``fake`` independently, using
    ``numpy.random.default_rng(seed)``: the same seed gives the same value.
    """
    r = as_matrix(real, "real", min_rows=2)
    f = as_matrix(fake, "fake", min_rows=2)
    check_same_dim(r, f, "real", "fake")
    if isinstance(subsets, bool) or not isinstance(subsets, int) or subsets < 1:
        raise ValueError(f"subsets must be a positive int, got {subsets!r}")
    if subset_size is not None and (
        isinstance(subset_size, bool) or not isinstance(subset_size, int) or subset_size < 2
    ):
        raise ValueError(f"subset_size must be an int >= 2 or None, got {subset_size!r}")
    n = min(r.shape[0], f.shape[0])
    m = min(default_subset_size(n) if subset_size is None else subset_size, n)
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        ir = torch.from_numpy(rng.choice(r.shape[0], m, replace=False))
        jf = torch.from_numpy(rng.choice(f.shape[0], m, replace=False))
        values[i] = polynomial_mmd2_unbiased(r[ir], f[jf])
    return float(values.mean()), float(values.std())


class KID(BufferedFeatureEvaluator):
    """Streaming KID: features are buffered (float64); ``compute()`` returns
    ``{"kid": mean, "kid_std": std}``. Negative values are possible (unbiased estimate)
    and are not clamped.

    Args:
        extractor, dataset: see :class:`aigc_metrics.fid.FID`.
        subsets: number of random subsets (100).
        subset_size: rows per subset; ``None`` (default): ``min(1000, n // 2)`` with ``n``
            the smaller sample count, so ``kid_std`` is meaningful at any ``n``.
        seed: subset seed.
    """

    name: ClassVar[str] = "kid"
    higher_is_better: ClassVar[dict[str, bool]] = {"kid": False, "kid_std": False}

    def __init__(
        self,
        extractor: ExtractorLike = None,
        *,
        dataset: str | None = None,
        subsets: int = 100,
        subset_size: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(extractor, dataset=dataset)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self) -> dict[str, float]:
        """``{"kid", "kid_std"}``."""
        real = self.gathered("real", 2, "kid")
        fake = self.gathered("fake", 2, "kid")
        mean, std = kid(real, fake, subsets=self.subsets, subset_size=self.subset_size, seed=self.seed)
        return {"kid": mean, "kid_std": std}
