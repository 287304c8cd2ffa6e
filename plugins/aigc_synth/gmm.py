"""A small, fast 1-D Gaussian mixture fitted by EM, for mode-specific normalisation.

CTGAN-style mode-specific normalisation needs one mixture per numeric column. Fitting
scikit-learn's BayesianGaussianMixture per column is the slow part of classic CTGAN/TVAE,
so this is a vectorised EM with a Dirichlet-like pruning step: components whose weight
falls below ``min_weight`` are dropped, which plays the role of the variational prior
(only the modes the data supports survive).
"""

from __future__ import annotations

import numpy as np


def fit_gmm_1d(
    x: np.ndarray,
    *,
    max_components: int = 10,
    min_weight: float = 0.005,
    n_iter: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit a 1-D Gaussian mixture and return ``(weights, means, stds)``, sorted by mean.

    Initialisation is deterministic given ``seed`` (means at random data quantiles).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("cannot fit a mixture to an empty column")
    spread = float(x.std())
    if spread == 0.0:
        return np.array([1.0]), np.array([float(x[0])]), np.array([1e-3 * max(abs(float(x[0])), 1.0)])
    rng = np.random.default_rng(seed)
    k = int(min(max_components, np.unique(x).size))
    means = np.quantile(x, np.sort(rng.uniform(0.02, 0.98, size=k)))
    stds = np.full(k, spread / k)
    weights = np.full(k, 1.0 / k)
    floor = 1e-3 * spread  # keeps a point mass from collapsing a component to zero width
    prev = -np.inf
    for _ in range(n_iter):
        # E-step in log space for stability
        z = (x[:, None] - means[None, :]) / stds[None, :]
        logp = np.log(weights)[None, :] - np.log(stds)[None, :] - 0.5 * z * z
        top = logp.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(logp - top).sum(axis=1, keepdims=True))
        resp = np.exp(logp - lse)
        ll = float(lse.mean())
        # M-step
        nk = resp.sum(axis=0) + 1e-12
        weights = nk / nk.sum()
        means = (resp * x[:, None]).sum(axis=0) / nk
        var = (resp * (x[:, None] - means[None, :]) ** 2).sum(axis=0) / nk
        stds = np.sqrt(np.maximum(var, floor * floor))
        keep = weights >= min_weight
        if not keep.all():
            weights, means, stds = weights[keep] / weights[keep].sum(), means[keep], stds[keep]
        if abs(ll - prev) < tol:
            break
        prev = ll
    order = np.argsort(means)
    return weights[order], means[order], stds[order]


def mode_responsibilities(
    x: np.ndarray, weights: np.ndarray, means: np.ndarray, stds: np.ndarray
) -> np.ndarray:
    """Posterior probability of each mode for every value: shape ``(len(x), n_modes)``."""
    z = (np.asarray(x, dtype=np.float64)[:, None] - means[None, :]) / stds[None, :]
    logp = np.log(weights)[None, :] - np.log(stds)[None, :] - 0.5 * z * z
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)
