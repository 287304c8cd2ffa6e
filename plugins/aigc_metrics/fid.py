"""Frechet distance between Gaussians fitted to two feature sets (FID when the features
come from an Inception network; here from any registered extractor).

    FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1^(1/2) S2 S1^(1/2))

The trace term uses the symmetric route: with any factor F, F F^T = S1, the eigenvalues of
F^T S2 F equal those of S1^(1/2) S2 S1^(1/2) (F = S1^(1/2) Q, Q orthogonal), so
``tr sqrt = sum sqrt(clip(eigvalsh(F^T S2 F), 0))``. F is the Cholesky factor when S1 is
positive definite (fast) and S1^(1/2) from ``eigh`` otherwise (singular S1, e.g. fewer
samples than dimensions). Both avoid the non-symmetric ``sqrtm(S1 S2)`` whose complex or
non-finite results are a known trap.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from aigc_metrics._checks import as_matrix
from aigc_metrics.base import ExtractorLike, FeatureEvaluator
from aigc_metrics.moments import RunningMoments

METHODS = ("auto", "cholesky", "eigh")


def _factor(s1: Tensor, method: str) -> Tensor:
    """A matrix F with F F^T = S1 (clipping S1's negative eigenvalues to 0)."""
    if method in ("auto", "cholesky"):
        chol, info = torch.linalg.cholesky_ex(s1)
        if int(info) == 0:
            return chol
        if method == "cholesky":
            raise ValueError("cholesky route needs a positive definite sigma1; use method='eigh'")
    evals, evecs = torch.linalg.eigh(s1)
    return evecs * evals.clamp_min(0).sqrt()  # V diag(sqrt(lambda)): F F^T = S1


def trace_sqrt_product(sigma1: Any, sigma2: Any, *, method: str = "auto") -> float:
    """``tr sqrt(S1^(1/2) S2 S1^(1/2))`` (= tr sqrt(S1 S2)) for symmetric PSD matrices, float64."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    s1 = torch.as_tensor(np.asarray(sigma1), dtype=torch.float64)
    s2 = torch.as_tensor(np.asarray(sigma2), dtype=torch.float64)
    f = _factor(s1, method)
    b = f.T @ (s2 @ f)
    b = (b + b.T) / 2
    evals = torch.linalg.eigvalsh(b).clamp_min(0)
    return float(evals.sqrt().sum())


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, method: str = "auto") -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), clamped at 0, float64."""
    m1, m2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    d = m1.shape[0]
    for arg, v, shape in (
        ("mu1", m1, (d,)),
        ("mu2", m2, (d,)),
        ("sigma1", s1, (d, d)),
        ("sigma2", s2, (d, d)),
    ):
        if v.shape != shape:
            raise ValueError(f"{arg} must have shape {shape}, got {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"{arg} contains NaN or infinite values")
    diff = m1 - m2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2, method=method))
    return max(value, 0.0)


def fid_from_features(real: Any, fake: Any, *, method: str = "auto") -> float:
    """One-shot FID between two feature matrices ``(N, D)``."""
    ev = FID(method=method)
    ev.update(real=real, fake=fake)
    return ev.compute()["fid"]


class FID(FeatureEvaluator):
    """Streaming Frechet (Inception) distance.

    ``update(real=..., fake=...)`` accumulates float64 sums of x and x x^T per side (memory
    O(d^2), never O(N d)); ``compute()`` returns ``{"fid": value}``. Fewer samples than
    feature dimensions gives a finite value and a warning (the covariance is singular and
    the estimate strongly biased). Real statistics can be reused across runs with
    :meth:`real_statistics` / :meth:`set_real_statistics`.

    Args:
        extractor: ``None`` when you pass features, or a registered extractor name/object.
        dataset: data set for extractors that need one (``"classifier"``).
        method: ``"auto"`` (Cholesky factor of S1 when positive definite, else eigh),
            ``"cholesky"`` or ``"eigh"``.
    """

    name: ClassVar[str] = "fid"
    higher_is_better: ClassVar[dict[str, bool]] = {"fid": False}

    def __init__(
        self, extractor: ExtractorLike = None, *, dataset: str | None = None, method: str = "auto"
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        super().__init__(extractor, dataset=dataset)
        self.method = method
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated statistics."""
        super().reset()
        self.moments = {"real": RunningMoments(), "fake": RunningMoments()}
        self._fixed_real: tuple[np.ndarray, np.ndarray, int] | None = None

    def _add(self, side: str, feats: Tensor) -> None:
        if side == "real" and self._fixed_real is not None:
            raise ValueError("real statistics were set with set_real_statistics(); do not also update real")
        self.moments[side].update(feats.numpy())

    def real_statistics(self) -> tuple[np.ndarray, np.ndarray, int]:
        """``(mu, sigma, n)`` of the real side, e.g. to cache them for later runs."""
        if self._fixed_real is not None:
            return self._fixed_real
        m = self.moments["real"]
        return m.mean(), m.cov(), m.n

    def set_real_statistics(self, mu: Any, sigma: Any, n: int) -> None:
        """Use precomputed real statistics instead of real samples."""
        mu_a = as_matrix(np.asarray(mu)[None], "mu").numpy()[0]
        sigma_a = as_matrix(sigma, "sigma").numpy()
        if sigma_a.shape != (mu_a.shape[0], mu_a.shape[0]):
            raise ValueError(f"sigma must have shape ({mu_a.shape[0]}, {mu_a.shape[0]}), got {sigma_a.shape}")
        if self.dim is not None and self.dim != mu_a.shape[0]:
            raise ValueError(f"mu has {mu_a.shape[0]} features, expected {self.dim}")
        if self.moments["real"].n:
            raise ValueError("real samples were already added; call reset() first")
        self.dim = mu_a.shape[0]
        self._fixed_real = (mu_a, sigma_a, int(n))

    def compute(self) -> dict[str, float]:
        """Return ``{"fid": float}`` (float64 arithmetic, clamped at 0)."""
        fake = self.moments["fake"]
        for side, n in (("real", self.real_statistics_n()), ("fake", fake.n)):
            if n < 2:
                raise ValueError(f"fid needs at least 2 {side} samples, got {n}")
        mu1, s1, n1 = self.real_statistics()
        mu2, s2, n2 = fake.mean(), fake.cov(), fake.n
        d = mu1.shape[0]
        if min(n1, n2) < d:
            warnings.warn(
                f"FID with fewer samples ({min(n1, n2)}) than feature dimensions ({d}): the covariance is "
                "singular and the value strongly biased; compare only at equal sample sizes",
                RuntimeWarning,
                stacklevel=2,
            )
        return {"fid": frechet_distance(mu1, s1, mu2, s2, method=self.method)}

    def real_statistics_n(self) -> int:
        """Number of real samples behind the real statistics."""
        return self._fixed_real[2] if self._fixed_real is not None else self.moments["real"].n


__all__ = ["FID", "fid_from_features", "frechet_distance", "trace_sqrt_product"]
