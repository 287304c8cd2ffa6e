"""Synthetic-table quality: column shapes, column-pair trends, detection, ML efficacy and
distance to closest record.

Column types follow SDMetrics' "sdtypes": ``numerical`` and ``datetime`` columns are
continuous, ``categorical`` and ``boolean`` ones discrete. ``metadata`` is either
``{column: sdtype}``, SDMetrics' ``{"columns": {column: {"sdtype": ...}}}``, or ``None``
(inferred: bool -> boolean, numbers -> numerical, everything else -> categorical).

The quality score (mean of the column-shapes and column-pair-trends scores) follows
SDMetrics' QualityReport definitions, including one of its conventions: for a
continuous/discrete column pair, the continuous column is cut into 10 equal-width bins
computed *separately* on each table (``pair_bins="per_table"``); ``pair_bins="real"``
applies the real table's edges to both, which is the stricter comparison.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

CONTINUOUS = {"numerical", "datetime"}
DISCRETE = {"categorical", "boolean"}


# ----------------------------------------------------------------------------- metadata
def column_types(real: pd.DataFrame, metadata: dict[str, Any] | None = None) -> dict[str, str]:
    """Map each column to its sdtype (see module docstring)."""
    if metadata is not None:
        cols = metadata.get("columns", metadata)
        out = {c: (m["sdtype"] if isinstance(m, dict) else m) for c, m in cols.items()}
        bad = {c: t for c, t in out.items() if t not in CONTINUOUS | DISCRETE}
        if bad:
            raise ValueError(
                f"metadata has unsupported sdtypes {bad}; use numerical, datetime, categorical, boolean"
            )
        missing = [c for c in out if c not in real.columns]
        if missing:
            raise ValueError(f"metadata names columns missing from the real table: {missing}")
        return out
    out = {}
    for c in real.columns:
        s = real[c]
        if pd.api.types.is_bool_dtype(s):
            out[c] = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[c] = "datetime"
        elif pd.api.types.is_numeric_dtype(s):
            out[c] = "numerical"
        else:
            out[c] = "categorical"
    return out


def _check_tables(real: Any, synthetic: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    for arg, t in (("real", real), ("synthetic", synthetic)):
        if not isinstance(t, pd.DataFrame):
            raise ValueError(f"{arg} must be a pandas DataFrame, got {type(t).__name__}")
        if len(t) == 0:
            raise ValueError(f"{arg} is empty")
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        raise ValueError(f"synthetic lacks columns of real: {missing}")
    return real, synthetic[list(real.columns)]


def _numeric(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(s.values.astype("datetime64[ns]").astype(np.int64), index=s.index).where(s.notna())
    return pd.to_numeric(s, errors="coerce").astype(float)


# ----------------------------------------------------------------------------- single columns
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


# ----------------------------------------------------------------------------- column pairs
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


def quality_score(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict[str, Any] | None = None, **pair_options: Any
) -> dict[str, float]:
    """``{"quality", "column_shapes", "column_pair_trends"}``: the overall score is the mean
    of the two property scores, each the mean of its (non-NaN) parts."""
    shapes = np.array(list(column_shapes(real, synthetic, metadata).values()), dtype=float)
    pairs = np.array(
        list(column_pair_trends(real, synthetic, metadata, **pair_options).values()), dtype=float
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an empty/all-NaN property
        s = float(np.nanmean(shapes)) if shapes.size else float("nan")
        p = float(np.nanmean(pairs)) if pairs.size else float("nan")
        q = float(np.nanmean([s, p]))
    return {"quality": q, "column_shapes": s, "column_pair_trends": p}


# ----------------------------------------------------------------------------- encoding
class TableEncoder:
    """Numbers for scikit-learn: standardised continuous columns (NaN -> 0 plus a missing
    flag) and one-hot discrete columns, fitted on one table and applied to others."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types

    def fit(self, *tables: pd.DataFrame) -> TableEncoder:
        """Learn means/scales and categories from the concatenation of ``tables``."""
        data = pd.concat(tables, ignore_index=True)
        self.stats: dict[str, tuple[float, float, bool]] = {}
        self.cats: dict[str, list[Any]] = {}
        for c, t in self.types.items():
            if t in CONTINUOUS:
                v = _numeric(data[c])
                sd = float(v.std()) if v.notna().sum() > 1 else 1.0
                self.stats[c] = (
                    float(v.mean()) if v.notna().any() else 0.0,
                    sd if sd > 0 else 1.0,
                    bool(v.isna().any()),
                )
            else:
                self.cats[c] = sorted(data[c].astype(str).unique())
        return self

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """Encode ``table`` into a float64 matrix."""
        parts = []
        for c, t in self.types.items():
            if t in CONTINUOUS:
                mean, sd, has_nan = self.stats[c]
                v = _numeric(table[c])
                parts.append(((v - mean) / sd).fillna(0.0).to_numpy()[:, None])
                if has_nan:
                    parts.append(v.isna().to_numpy(float)[:, None])
            else:
                codes = pd.Categorical(table[c].astype(str), categories=self.cats[c]).codes
                onehot = np.zeros((len(table), len(self.cats[c])))
                ok = codes >= 0
                onehot[np.flatnonzero(ok), codes[ok]] = 1.0
                parts.append(onehot)
        return np.hstack(parts) if parts else np.zeros((len(table), 0))


# ----------------------------------------------------------------------------- detection
def detection_score(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    *,
    folds: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Logistic-regression two-sample test: ``{"detection": 1 - (2 max(AUC, 0.5) - 1), "auc"}``.

    1 means a classifier cannot tell the tables apart; 0 means it always can. ``auc`` is the
    mean held-out ROC-AUC over seeded stratified folds.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    real, synthetic = _check_tables(real, synthetic)
    if min(len(real), len(synthetic)) < folds:
        raise ValueError(f"detection needs at least folds={folds} rows in each table")
    types = column_types(real, metadata)
    enc = TableEncoder(types).fit(real, synthetic)
    x = np.vstack([enc.transform(real), enc.transform(synthetic)])
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    aucs = []
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(max_iter=1000).fit(x[tr], y[tr])
        aucs.append(roc_auc_score(y[te], model.predict_proba(x[te])[:, 1]))
    auc = float(np.mean(aucs))
    return {"detection": 1.0 - (2.0 * max(auc, 0.5) - 1.0), "auc": auc}


# ----------------------------------------------------------------------------- ML efficacy
def ml_efficacy(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    target: str,
    *,
    task: str = "classification",
    metadata: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Train on real (TRTR), on synthetic (TSTR) and on real + synthetic (augmented), test on
    ``real_test``. Score: accuracy (classification, logistic regression) or R^2
    (regression, ridge). ``tstr_ratio`` = TSTR / TRTR."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, r2_score

    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    for arg, t in (("real_train", real_train), ("synthetic", synthetic), ("real_test", real_test)):
        if not isinstance(t, pd.DataFrame) or len(t) == 0:
            raise ValueError(f"{arg} must be a non-empty DataFrame")
        if target not in t.columns:
            raise ValueError(f"target {target!r} is not a column of {arg}")
    types = {c: t for c, t in column_types(real_train, metadata).items() if c != target}
    enc = TableEncoder(types).fit(real_train)

    def fit_score(train: pd.DataFrame) -> float:
        x, y = enc.transform(train), train[target].to_numpy()
        xt, yt = enc.transform(real_test), real_test[target].to_numpy()
        if task == "classification":
            if len(np.unique(y)) < 2:
                return float("nan")
            model = LogisticRegression(max_iter=1000, random_state=seed).fit(x, y.astype(str))
            return float(accuracy_score(yt.astype(str), model.predict(xt)))
        model = Ridge(alpha=1.0).fit(x, y.astype(float))
        return float(r2_score(yt.astype(float), model.predict(xt)))

    trtr, tstr = fit_score(real_train), fit_score(synthetic)
    augmented = fit_score(pd.concat([real_train, synthetic[list(real_train.columns)]], ignore_index=True))
    return {
        "trtr": trtr,
        "tstr": tstr,
        "augmented": augmented,
        "tstr_ratio": tstr / trtr if trtr else float("nan"),
    }


# ----------------------------------------------------------------------------- privacy
def distance_to_closest_record(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    *,
    holdout: pd.DataFrame | None = None,
    block_size: int = 2048,
) -> dict[str, float]:
    """Distance from each synthetic row to its closest real row (Gower-style: the mean over
    columns of |difference| / real range for continuous columns, 0/1 mismatch for discrete).

    Returns the median, 5th percentile and share of exact copies; with ``holdout`` (real rows
    not used for training) also the holdout's median DCR to ``real`` as a baseline: synthetic
    rows much closer to the training rows than fresh real rows are suspect.
    """
    import torch

    real, synthetic = _check_tables(real, synthetic)
    types = column_types(real, metadata)

    def encode(t: pd.DataFrame) -> np.ndarray:
        parts = []
        for c, kind in types.items():
            if kind in CONTINUOUS:
                ref = _numeric(real[c])
                lo, span = float(ref.min()), float(ref.max() - ref.min()) or 1.0
                parts.append(((_numeric(t[c]) - lo) / span).fillna(0.0).to_numpy()[:, None])
            else:
                cats = sorted(set(real[c].astype(str)) | set(synthetic[c].astype(str)))
                codes = pd.Categorical(t[c].astype(str), categories=cats).codes
                onehot = np.zeros((len(t), len(cats) + 1))
                onehot[np.arange(len(t)), np.where(codes >= 0, codes, len(cats))] = 0.5  # L1 mismatch = 1
                parts.append(onehot)
        return np.hstack(parts)

    ref = torch.from_numpy(encode(real))

    def dcr(t: pd.DataFrame) -> np.ndarray:
        q = torch.from_numpy(encode(t))
        mins = [
            torch.cdist(q[s : s + block_size], ref, p=1).min(1).values for s in range(0, len(q), block_size)
        ]
        return (torch.cat(mins) / len(types)).numpy()

    d = dcr(synthetic)
    out = {
        "dcr_median": float(np.median(d)),
        "dcr_p05": float(np.percentile(d, 5)),
        "exact_match_rate": float((d <= 1e-12).mean()),
    }
    if holdout is not None:
        out["dcr_holdout_median"] = float(np.median(dcr(_check_tables(real, holdout)[1])))
    return out


# ----------------------------------------------------------------------------- evaluator
class TabularQuality:
    """Streaming tabular quality evaluator: ``update(real=df, fake=df)`` appends rows;
    ``compute()`` returns ``{"quality", "column_shapes", "column_pair_trends"}``.

    (Duck-types :class:`aigc_sdk.interfaces.Evaluator`: tables are DataFrames, not tensors.)
    """

    name: ClassVar[str] = "tabular-quality"
    higher_is_better: ClassVar[dict[str, bool]] = {
        "quality": True,
        "column_shapes": True,
        "column_pair_trends": True,
    }

    def __init__(
        self, metadata: dict[str, Any] | None = None, *, bins: int = 10, pair_bins: str = "per_table"
    ) -> None:
        self.metadata, self.bins, self.pair_bins = metadata, bins, pair_bins
        self.extractor_name = "raw"
        self.reset()

    def reset(self) -> None:
        """Forget the rows seen so far."""
        self._parts: dict[str, list[pd.DataFrame]] = {"real": [], "fake": []}

    def update(self, *, real: pd.DataFrame | None = None, fake: pd.DataFrame | None = None) -> None:
        """Append rows of the real and/or synthetic table."""
        for side, t in (("real", real), ("fake", fake)):
            if t is not None:
                if not isinstance(t, pd.DataFrame):
                    raise ValueError(f"{side} must be a pandas DataFrame, got {type(t).__name__}")
                self._parts[side].append(t)

    def compute(self) -> dict[str, float]:
        """The quality score and its two properties."""
        for side in ("real", "fake"):
            if not self._parts[side]:
                raise ValueError(f"tabular-quality needs {side} rows; call update({side}=...) first")
        real = pd.concat(self._parts["real"], ignore_index=True)
        fake = pd.concat(self._parts["fake"], ignore_index=True)
        return quality_score(real, fake, self.metadata, bins=self.bins, pair_bins=self.pair_bins)
