"""Sliced Wasserstein against scipy's exact 1-D Wasserstein distance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from aigc_metrics.sliced_wasserstein import SlicedWasserstein, random_directions, sliced_wasserstein


def test_p1_matches_scipy_with_unequal_sizes():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((173, 5)), rng.standard_normal((121, 5)) + 0.3
    theta = random_directions(5, 32, seed=9).numpy()
    want = np.mean([wasserstein_distance(x @ t, y @ t) for t in theta.T])
    assert sliced_wasserstein(x, y, projections=32, p=1, seed=9) == pytest.approx(want, rel=1e-9)


def test_p2_matches_sorted_differences_with_equal_sizes():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((200, 4)), rng.standard_normal((200, 4)) * 2
    theta = random_directions(4, 16, seed=2).numpy()
    w2 = [np.mean((np.sort(x @ t) - np.sort(y @ t)) ** 2) for t in theta.T]
    assert sliced_wasserstein(x, y, projections=16, p=2, seed=2) == pytest.approx(
        np.sqrt(np.mean(w2)), rel=1e-9
    )


def test_streaming_seeded_and_zero_on_self():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((100, 3)), rng.standard_normal((90, 3))
    ev = SlicedWasserstein(seed=5)
    ev.update(real=x[:40], fake=y[:50])
    ev.update(real=x[40:], fake=y[50:])
    assert ev.compute()["swd"] == pytest.approx(sliced_wasserstein(x, y, seed=5), rel=1e-12)
    assert sliced_wasserstein(x, x) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="feature sizes"):
        sliced_wasserstein(x, rng.standard_normal((5, 4)))
