"""Likelihood and reconstruction helpers against closed forms in numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, logsumexp
from scipy.stats import norm

from aigc_metrics import likelihood as L


def test_kl_elbo_and_log_likelihoods():
    rng = np.random.default_rng(0)
    mu, logvar = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)) * 0.5
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).sum(1)
    np.testing.assert_allclose(L.gaussian_kl(mu, logvar).numpy(), kl, rtol=1e-12)
    x = rng.random((6, 1, 3, 3))
    logits = rng.standard_normal((6, 1, 3, 3))
    p = expit(logits)
    ll = (x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(6, -1).sum(1)
    np.testing.assert_allclose(L.bernoulli_log_likelihood(x, logits).numpy(), ll, rtol=1e-10)
    np.testing.assert_allclose(L.elbo(ll, mu, logvar).numpy(), ll - kl, rtol=1e-12)
    g = norm.logpdf(x, loc=logits, scale=np.exp(0.5 * 0.3)).reshape(6, -1).sum(1)
    np.testing.assert_allclose(L.gaussian_log_likelihood(x, logits, 0.3).numpy(), g, rtol=1e-10)
    np.testing.assert_allclose(L.log_normal(mu, 0.0, 0.0).numpy(), norm.logpdf(mu).sum(1), rtol=1e-12)


def test_iwae_is_float64_logsumexp():
    rng = np.random.default_rng(1)
    lw = rng.standard_normal((50, 7)) * 30 - 800  # would underflow exp() in float32
    got = L.iwae_bound(torch.tensor(lw, dtype=torch.float32))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(
        got.numpy(), logsumexp(lw.astype(np.float32).astype(np.float64), 0) - np.log(50), rtol=1e-12
    )
    # K=1 is the ELBO itself; more samples never lower the bound on average (Jensen)
    np.testing.assert_allclose(L.iwae_bound(lw[:1]).numpy(), lw[0])
    with pytest.raises(ValueError, match="log_weights"):
        L.iwae_bound(np.array([[np.nan]]))


def test_reconstruction_psnr_active_units():
    rng = np.random.default_rng(2)
    x, xh = rng.random((5, 8)), rng.random((5, 8))
    mse = ((x - xh) ** 2).mean(1)
    np.testing.assert_allclose(L.reconstruction_mse(x, xh).numpy(), mse, rtol=1e-12)
    bce = -(x * np.log(xh) + (1 - x) * np.log(1 - xh)).sum(1)
    np.testing.assert_allclose(L.reconstruction_bce(x, xh).numpy(), bce, rtol=1e-10)
    lg = np.log(xh / (1 - xh))
    np.testing.assert_allclose(L.reconstruction_bce(x, lg, logits=True).numpy(), bce, rtol=1e-8)
    np.testing.assert_allclose(L.psnr(x, xh).numpy(), 10 * np.log10(1 / mse), rtol=1e-12)
    mu = np.c_[rng.standard_normal(100), rng.standard_normal(100) * 0.01, np.zeros(100)]
    assert L.active_units(mu) == 1
    with pytest.raises(ValueError, match="same shape"):
        L.reconstruction_mse(x, xh[:, :3])
    with pytest.raises(ValueError, match="x_hat contains NaN"):
        L.reconstruction_mse(x, np.full_like(xh, np.nan))
