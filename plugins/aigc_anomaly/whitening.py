"""A robust Gaussian (trimmed mean / covariance) for Mahalanobis scores.

Reconstruction residuals of tabular features are strongly correlated, and the training data
contains the anomalies themselves: whitening the residuals with a covariance estimated on the
inlying majority (a few trimming passes, like the C-steps of MCD) scores far better than a
plain sum of squares.
"""

from __future__ import annotations

import torch
from torch import Tensor


class RobustGaussian:
    """Mean and precision of the ``keep`` fraction of points closest to the centre."""

    def __init__(self, keep: float = 0.9, steps: int = 3, shrink: float = 1e-3) -> None:
        if not 0.5 <= keep <= 1.0:
            raise ValueError(f"keep must be in [0.5, 1], got {keep}")
        self.keep, self.steps, self.shrink = keep, steps, shrink
        self.mean: Tensor | None = None
        self.precision: Tensor | None = None

    def fit(self, x: Tensor) -> RobustGaussian:
        """Estimate from ``x (N, D)`` (computed in float64)."""
        x = x.double()
        mask = torch.ones(len(x), dtype=torch.bool)
        for _ in range(self.steps + 1):
            sub = x[mask]
            mean = sub.mean(0)
            cov = torch.atleast_2d(torch.cov((sub - mean).T))
            # shrinkage toward a scaled identity keeps the inverse stable for near-collinear features
            ridge = self.shrink * cov.diagonal().mean().clamp_min(1e-12)
            self.mean = mean
            # contiguous: linalg.inv returns column-major memory, and a saved/loaded copy would be
            # row-major; the same layout keeps scores bitwise identical after a round trip
            self.precision = torch.linalg.inv(cov + ridge * torch.eye(len(cov), dtype=cov.dtype)).contiguous()
            d = self.score(x)
            mask = d <= torch.quantile(d, self.keep)
        return self

    def score(self, x: Tensor) -> Tensor:
        """Squared Mahalanobis distance of each row (float64)."""
        if self.mean is None or self.precision is None:
            raise RuntimeError("RobustGaussian is not fitted")
        c = x.double() - self.mean
        return ((c @ self.precision) * c).sum(1)
