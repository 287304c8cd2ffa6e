"""Improved precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al.
2020) with blocked distance computation.

k-NN radii and all four scores are computed from row blocks of the distance matrices, so
memory is O(block_size * max(N, M)) on top of the features, never O(N * M). A sample lies
in the ball of a reference point when its distance is <= that point's k-NN radius (the
papers' closed balls): duplicated samples therefore still count, where a strict ``<`` would
make density and coverage 0 on duplicates. A point's k-NN radius excludes the point itself
but counts its duplicates (their distance is 0).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from aigc_metrics._checks import as_matrix, check_k, check_same_dim
from aigc_metrics.base import BufferedFeatureEvaluator, ExtractorLike

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _sq_dists(a: Tensor, b: Tensor, a2: Tensor, b2: Tensor) -> Tensor:
    """Squared Euclidean distances of a block; rounding noise near 0 is snapped to 0 so that
    exact duplicates are at distance exactly 0."""
    d = a2[:, None] + b2[None, :] - 2.0 * (a @ b.T)
    tol = 64 * torch.finfo(d.dtype).eps * (a2[:, None] + b2[None, :])
    return torch.where(d <= tol, torch.zeros((), dtype=d.dtype), d)


def knn_radii(x: Tensor, ks: tuple[int, ...], *, block_size: int = 1024) -> dict[int, Tensor]:
    """Squared distance from each row of ``x`` to its k-th nearest other row, per k in ``ks``."""
    kmax = max(ks)
    if x.shape[0] <= kmax:
        raise ValueError(f"k={kmax} nearest neighbours need more than {kmax} samples, got {x.shape[0]}")
    x2 = (x * x).sum(1)
    out = {k: torch.empty(x.shape[0], dtype=x.dtype) for k in ks}
    for s in range(0, x.shape[0], block_size):
        d = _sq_dists(x[s : s + block_size], x, x2[s : s + block_size], x2)
        idx = torch.arange(d.shape[0])
        d[idx, idx + s] = 0.0  # the point itself: always the smallest, then skipped below
        small = torch.topk(d, kmax + 1, dim=1, largest=False, sorted=True).values
        for k in ks:
            out[k][s : s + block_size] = small[:, k]  # index 0 is the point itself
    return out


def prdc(
    real: Any,
    fake: Any,
    *,
    k_pr: int = 3,
    k_dc: int = 5,
    block_size: int = 1024,
    dtype: str = "float64",
) -> dict[str, float]:
    """Precision and recall (with ``k_pr`` neighbours), density and coverage (``k_dc``).

    ``real (N, D)`` and ``fake (M, D)`` are feature matrices. ``dtype="float32"`` halves
    time and memory at the cost of rounding near ball boundaries.
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    check_k(k_pr, "k_pr")
    check_k(k_dc, "k_dc")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    r = as_matrix(real, "real", dtype=_DTYPES[dtype], min_rows=1)
    f = as_matrix(fake, "fake", dtype=_DTYPES[dtype], min_rows=1)
    check_same_dim(r, f, "real", "fake")
    for arg, x in (("real", r), ("fake", f)):
        if x.shape[0] <= max(k_pr, k_dc):
            raise ValueError(f"{arg} needs more than k={max(k_pr, k_dc)} samples, got {x.shape[0]}")
    ks = tuple(sorted({k_pr, k_dc}))
    real_r = knn_radii(r, ks, block_size=block_size)
    fake_r = knn_radii(f, (k_pr,), block_size=block_size)[k_pr]
    r2, f2 = (r * r).sum(1), (f * f).sum(1)
    n, m = r.shape[0], f.shape[0]
    precise = torch.zeros(m, dtype=torch.bool)
    density_count = torch.zeros((), dtype=torch.float64)
    recalled = torch.zeros(n, dtype=torch.bool)
    nearest_fake = torch.full((n,), float("inf"), dtype=r.dtype)
    for s in range(0, m, block_size):
        d = _sq_dists(f[s : s + block_size], r, f2[s : s + block_size], r2)  # (b fake, N real)
        precise[s : s + block_size] = (d <= real_r[k_pr][None, :]).any(1)
        density_count += (d <= real_r[k_dc][None, :]).sum(dtype=torch.float64)
        recalled |= (d <= fake_r[s : s + block_size, None]).any(0)
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
    return {
        "precision": float(precise.double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(density_count / (k_dc * m)),
        "coverage": float((nearest_fake <= real_r[k_dc]).double().mean()),
    }


class _PRDCBase(BufferedFeatureEvaluator):
    keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        extractor: ExtractorLike = None,
        *,
        dataset: str | None = None,
        k_pr: int = 3,
        k_dc: int = 5,
        block_size: int = 1024,
        dtype: str = "float64",
    ) -> None:
        super().__init__(extractor, dataset=dataset)
        self.k_pr, self.k_dc = check_k(k_pr, "k_pr"), check_k(k_dc, "k_dc")
        self.block_size, self.dtype = block_size, dtype

    def compute(self) -> dict[str, float]:
        """The scores named in ``higher_is_better``."""
        need = max(self.k_pr, self.k_dc) + 1
        real = self.gathered("real", need, self.name)
        fake = self.gathered("fake", need, self.name)
        out = prdc(real, fake, k_pr=self.k_pr, k_dc=self.k_dc, block_size=self.block_size, dtype=self.dtype)
        return {k: out[k] for k in self.keys}


class PrecisionRecall(_PRDCBase):
    """Streaming improved precision/recall (``k_pr=3``): ``{"precision", "recall"}``."""

    name: ClassVar[str] = "prc"
    keys: ClassVar[tuple[str, ...]] = ("precision", "recall")
    higher_is_better: ClassVar[dict[str, bool]] = {"precision": True, "recall": True}

    def __init__(
        self, extractor: ExtractorLike = None, *, dataset: str | None = None, k: int = 3, **kw: Any
    ) -> None:
        super().__init__(extractor, dataset=dataset, k_pr=k, k_dc=k, **kw)


class DensityCoverage(_PRDCBase):
    """Streaming density/coverage (``k_dc=5``): ``{"density", "coverage"}``."""

    name: ClassVar[str] = "dc"
    keys: ClassVar[tuple[str, ...]] = ("density", "coverage")
    higher_is_better: ClassVar[dict[str, bool]] = {"density": True, "coverage": True}

    def __init__(
        self, extractor: ExtractorLike = None, *, dataset: str | None = None, k: int = 5, **kw: Any
    ) -> None:
        super().__init__(extractor, dataset=dataset, k_pr=k, k_dc=k, **kw)


class PRDC(_PRDCBase):
    """All four in one pass: precision/recall with ``k_pr`` (3), density/coverage with ``k_dc`` (5)."""

    name: ClassVar[str] = "prdc"
    keys: ClassVar[tuple[str, ...]] = ("precision", "recall", "density", "coverage")
    higher_is_better: ClassVar[dict[str, bool]] = dict.fromkeys(keys, True)
