"""Streaming first and second moments in float64 with O(d^2) memory."""

from __future__ import annotations

import numpy as np


class RunningMoments:
    """Running sums of ``x`` and ``x x^T`` (float64) for a mean and an unbiased covariance.

    The sums are taken around a shift (the first batch's mean), which avoids the
    cancellation of ``E[x x^T] - mu mu^T`` when features have a large mean.
    """

    def __init__(self) -> None:
        self.n = 0
        self.shift: np.ndarray | None = None
        self.sum: np.ndarray | None = None
        self.sum_outer: np.ndarray | None = None

    def update(self, x: np.ndarray) -> None:
        """Add a batch ``(b, d)`` (converted to float64)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return
        if self.shift is None:
            d = x.shape[1]
            self.shift = x.mean(axis=0)
            self.sum = np.zeros(d)
            self.sum_outer = np.zeros((d, d))
        y = x - self.shift
        self.sum += y.sum(axis=0)
        # numpy turns y.T @ y into a symmetric rank-k update (half the flops of a GEMM).
        self.sum_outer += y.T @ y
        self.n += x.shape[0]

    def mean(self) -> np.ndarray:
        """The sample mean ``(d,)``."""
        if self.n == 0 or self.shift is None or self.sum is None:
            raise ValueError("no samples accumulated")
        return self.shift + self.sum / self.n

    def cov(self) -> np.ndarray:
        """The unbiased (N-1) sample covariance ``(d, d)``, exactly symmetric."""
        if self.n < 2 or self.sum is None or self.sum_outer is None:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.n}")
        m = self.sum / self.n
        c = (self.sum_outer - self.n * np.outer(m, m)) / (self.n - 1)
        return (c + c.T) / 2
