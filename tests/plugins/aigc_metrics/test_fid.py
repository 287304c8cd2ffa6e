"""FID against an independent scipy implementation, plus edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

from aigc_metrics.fid import FID, fid_from_features, frechet_distance, trace_sqrt_product


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook route: full covariance, scipy sqrtm of S1 S2 (real part)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("method", ["auto", "cholesky", "eigh"])
def test_matches_scipy_reference(method):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 16)) @ rng.standard_normal((16, 16)) + 3.0
    b = rng.standard_normal((300, 16)) * 1.3 + 2.5
    assert fid_from_features(a, b, method=method) == pytest.approx(reference_fid(a, b), rel=1e-6)


def test_streaming_equals_one_shot_and_large_mean_is_stable():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((500, 8)) + 1e4  # large offset: naive E[xx^T] - mu mu^T cancels badly
    b = rng.standard_normal((500, 8)) * 1.1 + 1e4
    ev = FID()
    for i in range(0, 500, 64):
        ev.update(real=a[i : i + 64], fake=b[i : i + 64])
    assert ev.compute()["fid"] == pytest.approx(reference_fid(a, b), rel=1e-6)


def test_self_distance_is_zero_never_nan():
    rng = np.random.default_rng(2)
    for d in (4, 64, 300):
        a = rng.standard_normal((200, d))
        v = fid_from_features(a, a) if d < 200 else None
        if v is not None:
            assert v == pytest.approx(0.0, abs=1e-8) and v >= 0.0
    # a rank-deficient set against itself (fewer samples than dims): still 0, no NaN
    a = rng.standard_normal((50, 300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = fid_from_features(a, a)
    assert np.isfinite(v) and v == pytest.approx(0.0, abs=1e-6)


def test_fewer_samples_than_dims_warns_and_is_finite():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((20, 64)), rng.standard_normal((30, 64)) + 0.1
    ev = FID()
    ev.update(real=a, fake=b)
    with pytest.warns(RuntimeWarning, match="fewer samples"):
        v = ev.compute()["fid"]
    assert np.isfinite(v) and v > 0
    # the reference on singular covariances (sqrtm may be inaccurate, so compare loosely)
    assert v == pytest.approx(reference_fid(a, b), rel=1e-3)


def test_trace_sqrt_matches_definition():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((10, 10)), rng.standard_normal((10, 10))
    s1, s2 = x @ x.T, y @ y.T
    r = scipy.linalg.sqrtm(s1)
    expected = np.trace(scipy.linalg.sqrtm(r @ s2 @ r).real)
    for method in ("auto", "eigh"):
        assert trace_sqrt_product(s1, s2, method=method) == pytest.approx(expected, rel=1e-9)


def test_real_statistics_round_trip():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((100, 6)), rng.standard_normal((80, 6))
    ev = FID()
    ev.update(real=a, fake=b)
    mu, sigma, n = ev.real_statistics()
    ev2 = FID()
    ev2.set_real_statistics(mu, sigma, n)
    ev2.update(fake=b)
    assert ev2.compute()["fid"] == pytest.approx(ev.compute()["fid"], rel=1e-12)


def test_bad_input():
    rng = np.random.default_rng(6)
    ev = FID()
    with pytest.raises(ValueError, match="fake"):
        ev.update(real=rng.standard_normal((10, 4)), fake=rng.standard_normal((10, 5)))
    ev = FID()
    ev.update(real=rng.standard_normal((1, 4)), fake=rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match="at least 2 real"):
        ev.compute()
    with pytest.raises(ValueError, match="real"):
        FID().update(real=np.full((5, 3), np.nan), fake=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        FID().compute()
    with pytest.raises(ValueError, match="method"):
        FID(method="sqrtm")
    with pytest.raises(ValueError, match="sigma1"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
