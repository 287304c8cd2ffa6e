"""Sliced Wasserstein distance between two feature sets, with seeded random directions.

SW_p = (E_theta W_p^p(theta.X, theta.Y))^(1/p), the expectation estimated over
``projections`` directions drawn uniformly on the sphere. Each 1-D W_p is exact for
empirical measures of any sizes (piecewise-constant quantile functions). Only the
projections are stored, so memory is O(N * projections), not O(N * d).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from aigc_metrics._checks import as_matrix, check_same_dim
from aigc_metrics.base import ExtractorLike, FeatureEvaluator


def wasserstein_1d(u: Tensor, v: Tensor, p: float = 2.0) -> Tensor:
    """W_p^p between the empirical measures of columns of ``u (n, L)`` and ``v (m, L)``."""
    n, m = u.shape[0], v.shape[0]
    us, vs = torch.sort(u, dim=0).values, torch.sort(v, dim=0).values
    # Breakpoints of both quantile functions on (0, 1]; between them both are constant.
    t = torch.unique(
        torch.cat(
            [torch.arange(1, n + 1, dtype=torch.float64) / n, torch.arange(1, m + 1, dtype=torch.float64) / m]
        )
    )
    widths = torch.diff(t, prepend=torch.zeros(1, dtype=torch.float64))
    mid = t - widths / 2
    iu = torch.clamp((mid * n).floor().long(), max=n - 1)
    iv = torch.clamp((mid * m).floor().long(), max=m - 1)
    return (widths[:, None] * (us[iu] - vs[iv]).abs() ** p).sum(0)


def random_directions(dim: int, projections: int, seed: int) -> Tensor:
    """``(dim, projections)`` unit vectors, uniform on the sphere, from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(dim, projections, generator=g, dtype=torch.float64)
    return theta / theta.norm(dim=0, keepdim=True)


def sliced_wasserstein(
    real: Any, fake: Any, *, projections: int = 256, p: float = 2.0, seed: int = 0
) -> float:
    """One-shot sliced Wasserstein-p distance between ``real (N, D)`` and ``fake (M, D)``."""
    r = as_matrix(real, "real")
    f = as_matrix(fake, "fake")
    check_same_dim(r, f, "real", "fake")
    theta = random_directions(r.shape[1], projections, seed)
    return float(wasserstein_1d(r @ theta, f @ theta, p).mean() ** (1.0 / p))


class SlicedWasserstein(FeatureEvaluator):
    """Streaming sliced Wasserstein distance: ``{"swd": value}``.

    Args:
        extractor, dataset: see :class:`aigc_metrics.fid.FID`.
        projections: number of random directions (256); p: the Wasserstein order (2).
        seed: direction seed.
    """

    name: ClassVar[str] = "swd"
    higher_is_better: ClassVar[dict[str, bool]] = {"swd": False}

    def __init__(
        self,
        extractor: ExtractorLike = None,
        *,
        dataset: str | None = None,
        projections: int = 256,
        p: float = 2.0,
        seed: int = 0,
    ) -> None:
        if isinstance(projections, bool) or not isinstance(projections, int) or projections < 1:
            raise ValueError(f"projections must be a positive int, got {projections!r}")
        if not p >= 1:
            raise ValueError(f"p must be >= 1, got {p!r}")
        super().__init__(extractor, dataset=dataset)
        self.projections, self.p, self.seed = projections, float(p), seed
        self.reset()

    def reset(self) -> None:
        """Forget the stored projections."""
        super().reset()
        self._theta: Tensor | None = None
        self._proj: dict[str, list[Tensor]] = {"real": [], "fake": []}

    def _add(self, side: str, feats: Tensor) -> None:
        if self._theta is None:
            self._theta = random_directions(feats.shape[1], self.projections, self.seed)
        self._proj[side].append(feats @ self._theta)

    def compute(self) -> dict[str, float]:
        """``{"swd": value}``."""
        for side in ("real", "fake"):
            if not self._proj[side]:
                raise ValueError(f"swd needs {side} samples; call update({side}=...) first")
        u, v = torch.cat(self._proj["real"]), torch.cat(self._proj["fake"])
        return {"swd": float(wasserstein_1d(u, v, self.p).mean() ** (1.0 / self.p))}
