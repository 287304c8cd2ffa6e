"""Column-pair trends: correlation and contingency similarity of every column pair."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from aigc_metrics.tabular.columns import CONTINUOUS, _check_tables, _numeric, column_types


def correlation_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 - |r_real - r_synthetic| / 2 for the Pearson correlation of two continuous columns
    (rows with NaN dropped; NaN when a column is constant)."""
    rs = []
    for t in (real, synthetic):
        t = t.dropna()
        x, y = t.iloc[:, 0].to_numpy(float), t.iloc[:, 1].to_numpy(float)
        if x.size < 2 or x.std() == 0 or y.std() == 0:
            return float("nan")
        rs.append(float(np.corrcoef(x, y)[0, 1]))
    return 1.0 - abs(rs[0] - rs[1]) / 2.0


def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 - total variation distance between the joint frequency tables of two discrete
    columns (NaN is a category of its own)."""
    cols = list(real.columns[:2])
    p = real.groupby(cols, dropna=False).size() / len(real)
    q = synthetic.groupby(cols, dropna=False).size() / len(synthetic)
    idx = p.index.union(q.index, sort=False)  # order is irrelevant; mixed NaN/str keys cannot sort
    return float(1.0 - 0.5 * (p.reindex(idx, fill_value=0) - q.reindex(idx, fill_value=0)).abs().sum())


def _bins(values: pd.Series, edges: np.ndarray | None, bins: int) -> tuple[np.ndarray, np.ndarray]:
    if edges is None:
        clean = values.dropna().to_numpy(float)
        edges = np.histogram_bin_edges(clean, bins=bins)
    return np.digitize(values.to_numpy(float), bins=edges), edges


def column_pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    *,
    bins: int = 10,
    pair_bins: str = "per_table",
    min_real_correlation: float = 0.0,
    min_real_association: float = 0.0,
) -> dict[tuple[str, str], float]:
    """Similarity of every column pair: correlation similarity for two continuous columns,
    contingency similarity otherwise (continuous columns cut into ``bins`` bins).

    With ``min_real_correlation`` / ``min_real_association`` > 0, a pair whose real-data
    |Pearson r| (continuous pairs) or Cramér's V (other pairs) does not exceed the threshold
    scores NaN and so drops out of the average: the rule SDMetrics' QualityReport applies
    (see :data:`SDMETRICS_PAIR_THRESHOLDS`), which scores only pairs with a real trend.
    """
    if pair_bins not in ("per_table", "real"):
        raise ValueError(f"pair_bins must be 'per_table' or 'real', got {pair_bins!r}")
    for arg, v in (
        ("min_real_correlation", min_real_correlation),
        ("min_real_association", min_real_association),
    ):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{arg} must be in [0, 1], got {v!r}")
    real, synthetic = _check_tables(real, synthetic)
    types = column_types(real, metadata)
    num_r = {c: _numeric(real[c]) for c, t in types.items() if t in CONTINUOUS}
    num_s = {c: _numeric(synthetic[c]) for c in num_r}
    disc_r, disc_s = {}, {}
    for c in num_r:
        disc_r[c], edges = _bins(num_r[c], None, bins)
        disc_s[c], _ = _bins(num_s[c], edges if pair_bins == "real" else None, bins)
    out = {}
    for a, b in itertools.combinations(types, 2):
        ca, cb = types[a] in CONTINUOUS, types[b] in CONTINUOUS
        if ca and cb:
            if min_real_correlation > 0 and not _real_correlation_exceeds(
                num_r[a], num_r[b], min_real_correlation
            ):
                out[(a, b)] = float("nan")
                continue
            out[(a, b)] = correlation_similarity(
                pd.DataFrame({a: num_r[a], b: num_r[b]}), pd.DataFrame({a: num_s[a], b: num_s[b]})
            )
            continue
        ra = disc_r[a] if ca else real[a].to_numpy()
        rb = disc_r[b] if cb else real[b].to_numpy()
        sa = disc_s[a] if ca else synthetic[a].to_numpy()
        sb = disc_s[b] if cb else synthetic[b].to_numpy()
        if min_real_association > 0 and not _real_association_exceeds(ra, rb, min_real_association):
            out[(a, b)] = float("nan")
            continue
        out[(a, b)] = contingency_similarity(pd.DataFrame({a: ra, b: rb}), pd.DataFrame({a: sa, b: sb}))
    return out


#: Pair thresholds that reproduce SDMetrics' QualityReport (0.32): pass as
#: ``quality_score(real, syn, meta, **SDMETRICS_PAIR_THRESHOLDS)``.


SDMETRICS_PAIR_THRESHOLDS: dict[str, float] = {"min_real_correlation": 0.5, "min_real_association": 0.3}


def _real_correlation_exceeds(x: np.ndarray, y: np.ndarray, threshold: float) -> bool:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 2 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return False
    return bool(abs(np.corrcoef(x[ok], y[ok])[0, 1]) > threshold)


def _real_association_exceeds(a: np.ndarray, b: np.ndarray, threshold: float) -> bool:
    from scipy.stats.contingency import association

    # Missing values count as a category of their own, as in the similarity itself.
    table = pd.DataFrame({"a": a, "b": b}).groupby(["a", "b"], dropna=False).size().unstack(fill_value=0)
    if table.to_numpy().sum() == 0 or min(table.shape) < 2:
        return False
    return bool(association(table.to_numpy(), method="cramer") > threshold)
