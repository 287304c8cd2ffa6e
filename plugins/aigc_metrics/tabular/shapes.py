"""Column shapes: per-column KS / TV complements between the real and the synthetic table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aigc_metrics.tabular.columns import CONTINUOUS, _check_tables, _numeric, column_types


def ks_complement(real: Any, synthetic: Any) -> float:
    """1 - the two-sample Kolmogorov-Smirnov statistic (NaN dropped)."""
    a = np.sort(np.asarray(pd.Series(real).dropna(), dtype=float))
    b = np.sort(np.asarray(pd.Series(synthetic).dropna(), dtype=float))
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(1.0 - np.abs(cdf_a - cdf_b).max())


def tv_complement(real: Any, synthetic: Any) -> float:
    """1 - total variation distance between the category frequencies (NaN dropped)."""
    p = pd.Series(real).dropna().value_counts(normalize=True)
    q = pd.Series(synthetic).dropna().value_counts(normalize=True)
    if p.empty or q.empty:
        return float("nan")
    idx = p.index.union(q.index, sort=False)  # order is irrelevant; mixed NaN/str keys cannot sort
    return float(1.0 - 0.5 * (p.reindex(idx, fill_value=0) - q.reindex(idx, fill_value=0)).abs().sum())


def column_shapes(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict[str, Any] | None = None
) -> dict[str, float]:
    """Per-column similarity: KS complement (continuous) or TV complement (discrete)."""
    real, synthetic = _check_tables(real, synthetic)
    out = {}
    for col, kind in column_types(real, metadata).items():
        if kind in CONTINUOUS:
            out[col] = ks_complement(_numeric(real[col]), _numeric(synthetic[col]))
        else:
            out[col] = tv_complement(real[col], synthetic[col])
    return out
