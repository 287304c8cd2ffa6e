"""Likelihood and reconstruction helpers for VAEs and autoencoders.

Conventions: per-sample quantities are returned as float64 tensors ``(N,)``; log densities
are summed over all non-batch dimensions (nats per sample).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F


def _pair(x: Any, y: Any, ax: str, ay: str) -> tuple[Tensor, Tensor]:
    a, b = torch.as_tensor(x), torch.as_tensor(y)
    if a.shape != b.shape:
        raise ValueError(f"{ax} and {ay} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(f"{ax} must have shape (N, ...) with N > 0, got {tuple(a.shape)}")
    for arg, t in ((ax, a), (ay, b)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{arg} contains NaN or infinite values")
    return a.double(), b.double()


def _flat_sum(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1).sum(1)


def gaussian_kl(mu: Any, logvar: Any) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample."""
    m, lv = _pair(mu, logvar, "mu", "logvar")
    return _flat_sum(0.5 * (m.pow(2) + lv.exp() - 1.0 - lv))


def bernoulli_log_likelihood(x: Any, logits: Any) -> Tensor:
    """log p(x | logits) per sample for (continuous) Bernoulli targets in [0, 1]."""
    a, lg = _pair(x, logits, "x", "logits")
    return -_flat_sum(F.binary_cross_entropy_with_logits(lg, a, reduction="none"))


def gaussian_log_likelihood(x: Any, mean: Any, logvar: Any | float = 0.0) -> Tensor:
    """log N(x; mean, exp(logvar)) per sample (``logvar`` a tensor or a scalar)."""
    a, m = _pair(x, mean, "x", "mean")
    lv = torch.as_tensor(logvar, dtype=torch.float64).expand_as(a)
    return _flat_sum(-0.5 * (math.log(2 * math.pi) + lv + (a - m).pow(2) / lv.exp()))


def log_normal(z: Any, mu: Any | float = 0.0, logvar: Any | float = 0.0) -> Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension (shape of z without it)."""
    zt = torch.as_tensor(z, dtype=torch.float64)
    m = torch.as_tensor(mu, dtype=torch.float64)
    lv = torch.as_tensor(logvar, dtype=torch.float64)
    return (-0.5 * (math.log(2 * math.pi) + lv + (zt - m).pow(2) / lv.exp())).sum(-1)


def elbo(log_likelihood: Any, mu: Any, logvar: Any) -> Tensor:
    """Per-sample ELBO = E_q[log p(x|z)] (one-sample estimate given) - KL(q(z|x) || p(z))."""
    ll = torch.as_tensor(log_likelihood, dtype=torch.float64)
    kl = gaussian_kl(mu, logvar)
    if ll.shape != kl.shape:
        raise ValueError(f"log_likelihood must have shape {tuple(kl.shape)}, got {tuple(ll.shape)}")
    return ll - kl


def iwae_bound(log_weights: Any) -> Tensor:
    """IWAE log-likelihood estimate per sample from ``log_weights (K, N)``:
    ``logsumexp_k(log w_k) - log K`` in float64, with
    ``log w = log p(x|z_k) + log p(z_k) - log q(z_k|x)``."""
    lw = torch.as_tensor(log_weights).double()
    if lw.ndim != 2 or lw.shape[0] < 1 or lw.shape[1] < 1:
        raise ValueError(f"log_weights must have shape (K, N) with K, N >= 1, got {tuple(lw.shape)}")
    if torch.isnan(lw).any() or torch.isposinf(lw).any():
        raise ValueError("log_weights contains NaN or +inf")
    return torch.logsumexp(lw, dim=0) - math.log(lw.shape[0])


def reconstruction_mse(x: Any, x_hat: Any) -> Tensor:
    """Mean squared error per sample (mean over the sample's elements)."""
    a, b = _pair(x, x_hat, "x", "x_hat")
    return (a - b).pow(2).reshape(a.shape[0], -1).mean(1)


def reconstruction_bce(x: Any, x_hat: Any, *, logits: bool = False, eps: float = 1e-12) -> Tensor:
    """Binary cross-entropy per sample, summed over elements (nats per sample).

    ``x_hat`` holds probabilities (clamped to [eps, 1 - eps]) or, with ``logits=True``, logits.
    """
    a, b = _pair(x, x_hat, "x", "x_hat")
    if logits:
        return _flat_sum(F.binary_cross_entropy_with_logits(b, a, reduction="none"))
    p = b.clamp(eps, 1 - eps)
    return -_flat_sum(a * p.log() + (1 - a) * (1 - p).log())


def psnr(x: Any, x_hat: Any, *, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per sample, 10 log10(range^2 / MSE), in dB (inf if identical)."""
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range!r}")
    mse = reconstruction_mse(x, x_hat)
    return 10.0 * torch.log10(data_range**2 / mse)


def active_units(mu: Any, *, threshold: float = 1e-2) -> int:
    """Number of latent dimensions whose posterior mean varies across data:
    Var_x(E_q[z_d | x]) > threshold (Burda et al. 2016); ``mu`` is ``(N, latent_dim)``."""
    m = torch.as_tensor(mu).double()
    if m.ndim != 2 or m.shape[0] < 2:
        raise ValueError(f"mu must have shape (N, latent_dim) with N >= 2, got {tuple(m.shape)}")
    if not torch.isfinite(m).all():
        raise ValueError("mu contains NaN or infinite values")
    return int((m.var(dim=0, unbiased=True) > threshold).sum())
