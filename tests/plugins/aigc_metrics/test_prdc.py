"""Precision/recall/density/coverage against full-matrix numpy, prdc and the paper figures."""

from __future__ import annotations

import time

import numpy as np
import pytest

from aigc_metrics.prdc import PRDC, DensityCoverage, PrecisionRecall, prdc


def reference(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict[str, float]:
    """Full distance matrices, closed balls (<=), radii excluding the point itself."""
    d_rr = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    d_ff = np.sqrt(((fake[:, None] - fake[None]) ** 2).sum(-1))
    d_rf = np.sqrt(((real[:, None] - fake[None]) ** 2).sum(-1))  # (N real, M fake)
    rad_r = lambda k: np.sort(d_rr, axis=1)[:, k]  # noqa: E731 - column 0 is the point itself
    rad_f = np.sort(d_ff, axis=1)[:, k_pr]
    return {
        "precision": float((d_rf <= rad_r(k_pr)[:, None]).any(0).mean()),
        "recall": float((d_rf <= rad_f[None, :]).any(1).mean()),
        "density": float((d_rf <= rad_r(k_dc)[:, None]).sum() / (k_dc * len(fake))),
        "coverage": float((d_rf.min(1) <= rad_r(k_dc)).mean()),
    }


@pytest.mark.parametrize("block_size", [7, 64, 1024])
def test_matches_full_matrix_reference(block_size):
    rng = np.random.default_rng(0)
    real = rng.standard_normal((230, 12))
    fake = rng.standard_normal((170, 12)) * 1.2 + 0.2
    got = prdc(real, fake, k_pr=3, k_dc=5, block_size=block_size)
    want = reference(real, fake, 3, 5)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12), key


def test_duplicates_count_inside_closed_balls():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((40, 6))
    real = np.repeat(base, 6, axis=0)  # every point has 5 exact duplicates: k-NN radius 0
    out = prdc(real, real.copy(), k_pr=3, k_dc=5)
    assert out == {"precision": 1.0, "recall": 1.0, "density": 6 / 5, "coverage": 1.0}
    assert out == reference(real, real.copy(), 3, 5)


def test_cross_check_with_prdc_package():
    prdc_pkg = pytest.importorskip("prdc")
    rng = np.random.default_rng(2)
    real, fake = rng.standard_normal((300, 20)), rng.standard_normal((250, 20)) + 0.1
    want = prdc_pkg.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    got = prdc(real, fake, k_pr=5, k_dc=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == pytest.approx(float(want[key]), rel=1e-9), key


def test_evaluators_split_keys_and_stream():
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((90, 4)), rng.standard_normal((80, 4))
    pr, dc, both = PrecisionRecall(), DensityCoverage(), PRDC()
    for ev in (pr, dc, both):
        ev.update(real=real[:50], fake=fake[:30])
        ev.update(real=real[50:], fake=fake[30:])
    want = prdc(real, fake, k_pr=3, k_dc=5)
    assert pr.compute() == {k: want[k] for k in ("precision", "recall")}
    assert dc.compute() == {k: want[k] for k in ("density", "coverage")}
    assert both.compute() == want


def test_bad_input():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="feature sizes"):
        prdc(rng.standard_normal((20, 3)), rng.standard_normal((20, 4)))
    with pytest.raises(ValueError, match="fake needs more than k=5"):
        prdc(rng.standard_normal((20, 3)), rng.standard_normal((5, 3)))
    bad = rng.standard_normal((20, 3))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="fake contains NaN"):
        prdc(rng.standard_normal((20, 3)), bad)
    with pytest.raises(ValueError, match="k_pr"):
        prdc(bad, bad, k_pr=0)
    with pytest.raises(ValueError, match="real samples"):
        PRDC().compute()


@pytest.mark.slow
def test_gaussian_sanity_figures_of_the_prdc_paper():
    """Two samples of N(0, I) in 1000 dims, 10k each, k=5: P 0.477, R 0.471, D 1.056, C 0.974."""
    rng = np.random.default_rng(0)
    real = rng.standard_normal((10_000, 1000), dtype=np.float32)
    fake = rng.standard_normal((10_000, 1000), dtype=np.float32)
    t = time.perf_counter()
    out = prdc(real, fake, k_pr=5, k_dc=5, dtype="float32", block_size=2048)
    assert time.perf_counter() - t < 120
    assert out["precision"] == pytest.approx(0.477, abs=0.02)
    assert out["recall"] == pytest.approx(0.471, abs=0.02)
    assert out["density"] == pytest.approx(1.056, abs=0.03)
    assert out["coverage"] == pytest.approx(0.974, abs=0.01)
