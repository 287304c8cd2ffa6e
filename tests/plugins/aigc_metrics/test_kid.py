"""KID against a direct numpy implementation; seeding."""

from __future__ import annotations

import numpy as np
import pytest

from aigc_metrics.kid import KID, kid, polynomial_mmd2_unbiased


def reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def reference_kid(x, y, subsets, size, seed):
    rng = np.random.default_rng(seed)
    m = min(size, len(x), len(y))
    vals = []
    for _ in range(subsets):
        i = rng.choice(len(x), m, replace=False)
        j = rng.choice(len(y), m, replace=False)
        vals.append(reference_mmd2(x[i], y[j]))
    return np.mean(vals), np.std(vals)


def test_mmd_matches_reference():
    import torch

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 7)), rng.standard_normal((40, 7)) + 0.2
    got = polynomial_mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y))
    assert got == pytest.approx(reference_mmd2(x, y), rel=1e-9)


def test_kid_matches_reference_and_is_seeded():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((300, 10)), rng.standard_normal((250, 10)) * 1.2
    mean, std = kid(x, y, subsets=20, subset_size=100, seed=7)
    rmean, rstd = reference_kid(x, y, 20, 100, 7)
    assert mean == pytest.approx(rmean, rel=1e-9)
    assert std == pytest.approx(rstd, rel=1e-9)
    assert kid(x, y, subsets=20, subset_size=100, seed=7) == (mean, std)
    assert kid(x, y, subsets=20, subset_size=100, seed=8) != (mean, std)


def test_evaluator_identical_for_identical_seeds():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((120, 5)), rng.standard_normal((130, 5))
    a, b = KID(seed=3, subsets=10), KID(seed=3, subsets=10)
    a.update(real=x, fake=y)
    b.update(real=x[:60], fake=y[:70])
    b.update(real=x[60:], fake=y[70:])
    assert a.compute() == b.compute()


def test_bad_input():
    with pytest.raises(ValueError, match="real"):
        kid(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="feature sizes"):
        kid(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="kid needs"):
        KID().compute()


def test_default_subsets_are_smaller_than_n_so_std_is_meaningful():
    from aigc_metrics.kid import default_subset_size

    assert default_subset_size(200) == 100 and default_subset_size(5000) == 1000
    assert default_subset_size(3) == 2
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((200, 8)), rng.standard_normal((200, 8)) + 0.3
    mean, std = kid(x, y, subsets=20, seed=1)
    rmean, rstd = reference_kid(x, y, 20, 100, 1)  # min(1000, 200 // 2) rows per subset
    assert mean == pytest.approx(rmean, rel=1e-9) and std == pytest.approx(rstd, rel=1e-9)
    assert std > 0
    ev = KID(seed=1)
    ev.update(real=x, fake=y)
    out = ev.compute()
    assert out["kid_std"] > 0 and out["kid"] > 0
    # an explicit subset_size as large as the data reproduces the old, degenerate behaviour
    assert kid(x, y, subsets=5, subset_size=1000)[1] < 1e-12  # every subset is the whole set
    with pytest.raises(ValueError, match="subset_size"):
        kid(x, y, subset_size=1)
