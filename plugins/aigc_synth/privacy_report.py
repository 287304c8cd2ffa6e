"""Privacy figures for a synthetic table: how close its rows come to the training rows.

(Not to be confused with :mod:`aigc_synth.privacy`, which trains with differential privacy.)

:func:`privacy_report` compares the synthetic rows with the training rows three ways:

* **Distance to closest record (DCR)**: for each synthetic row, the Euclidean distance to the
  nearest training row, over standardised numeric columns (training mean and standard
  deviation, plus a missing-value flag) and one-hot categorical columns scaled by 1/sqrt(2),
  so one mismatched category costs as much as one standard deviation. The median and 5th
  percentile are set against a **baseline** of real rows that were not trained on: a given
  ``holdout``, or else each training row's distance to its nearest *other* training row
  (leave-one-out). For independent rows both baselines have the same distribution, so the
  leave-one-out one needs no rows held back from the fit. Synthetic rows that are much closer
  to the training rows than the baseline suggest memorisation.
* **Exact copies**: synthetic rows identical to some training row on every compared column.
* **Rare categories**: of the categories seen at most twice in training (which can single out
  a person), the share that appears in the synthetic rows.

Identifier columns (see :mod:`aigc_synth.columns`) are left out; dates count as numbers. The
distances use at most ``max_rows`` rows of each table (a seeded random subsample), exact copies
and rare categories use every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Most categories of one column given their own one-hot position in the distance (the rest share one).
MAX_CATEGORIES = 256
_MISSING = "\0nan"
DISTANCE = (
    "euclidean over standardised numeric columns (plus a missing flag) and one-hot categories "
    "scaled by 1/sqrt(2): one mismatched category costs one standard deviation"
)


def privacy_report(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    *,
    discrete_columns: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    max_rows: int = 3000,
    seed: int = 0,
) -> dict[str, Any]:
    """DCR, exact copies and rare-category reproduction of ``synthetic`` against ``train``.

    ``holdout``: real rows not used for training, for the DCR baseline (default: leave-one-out
    distances among the training rows). ``discrete_columns``: categorical columns (default:
    non-numeric and bool columns). ``id_columns``: identifier columns to ignore (default:
    detected as :class:`~aigc_synth.synthesizer.Synthesizer` does). Returns a flat JSON-safe dict;
    see the module docstring for what each figure means.
    """
    from aigc_synth.columns import ColumnPlan

    frames = [_named(train, "train"), _named(synthetic, "synthetic")]
    if holdout is not None:
        frames.append(_named(holdout, "holdout"))
    plan = ColumnPlan.fit(frames[0], discrete_columns=discrete_columns, id_columns=id_columns, warn=False)
    tm, sm = plan.to_model(frames[0]), plan.to_model(frames[1])
    hm = plan.to_model(frames[2]) if holdout is not None else None
    cats = {str(c) for c in discrete_columns or ()} | {
        c for c in tm.columns if not pd.api.types.is_numeric_dtype(tm[c]) or pd.api.types.is_bool_dtype(tm[c])
    }
    return report_on_model_frames(
        tm,
        sm,
        hm,
        categorical=[c for c in tm.columns if c in cats],
        ignored=list(plan.ids),
        max_rows=max_rows,
        seed=seed,
    )


def _named(df: Any, what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise ValueError(f"{what} is empty (shape {df.shape})")
    out = df.reset_index(drop=True)
    out.columns = [str(c) for c in out.columns]
    return out


def report_on_model_frames(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    categorical: Sequence[str],
    ignored: Sequence[str] = (),
    max_rows: int = 3000,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`privacy_report` on frames already mapped by :meth:`ColumnPlan.to_model` (numbers and
    categories only, identifier columns removed); ``categorical`` lists the categorical columns."""
    from sklearn.neighbors import NearestNeighbors

    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 2:
        raise ValueError(f"max_rows must be an int >= 2, got {max_rows!r}")
    if len(train) < 2:
        raise ValueError(f"train needs at least 2 rows, got {len(train)}")
    cols = list(train.columns)
    for what, df in (("synthetic", synthetic), ("holdout", holdout)):
        if df is not None:
            missing = [c for c in cols if c not in df.columns]
            if missing:
                raise ValueError(f"{what} rows lack column(s) {missing}")
    rng = np.random.default_rng(seed)
    cats = [c for c in cols if c in set(categorical)]
    enc = _Encoder(train, cats)
    ref = _subsample(train, max_rows, rng)
    reference = enc(ref)
    nn = NearestNeighbors(n_neighbors=1).fit(reference)
    syn = _subsample(synthetic, max_rows, rng)
    d_syn = nn.kneighbors(enc(syn))[0][:, 0]
    if holdout is not None:
        base = _subsample(holdout, max_rows, rng)
        d_base = nn.kneighbors(enc(base))[0][:, 0]
        baseline, base_rows = "holdout", len(base)
    else:  # each reference row against the other reference rows (its own distance 0 comes first)
        d_base = NearestNeighbors(n_neighbors=2).fit(reference).kneighbors(reference)[0][:, 1]
        baseline, base_rows = "train_leave_one_out", len(ref)
    copies = int(np.isin(_row_hashes(synthetic[cols], cats), _row_hashes(train, cats)).sum())
    rare = rare_reproduced(train, synthetic, cats)
    med_syn, med_base = float(np.median(d_syn)), float(np.median(d_base))
    return {
        "rows_train": len(train),
        "rows_synthetic": len(synthetic),
        "rows_holdout": None if holdout is None else len(holdout),
        "reference_rows": len(ref),
        "synthetic_rows_scored": len(syn),
        "baseline": baseline,
        "baseline_rows_scored": base_rows,
        "dcr_synthetic_median": med_syn,
        "dcr_synthetic_p05": float(np.percentile(d_syn, 5)),
        "dcr_baseline_median": med_base,
        "dcr_baseline_p05": float(np.percentile(d_base, 5)),
        "dcr_ratio_median": med_syn / med_base if med_base > 0 else None,
        "exact_copies": copies,
        "exact_copy_rate": copies / len(synthetic),
        "rare_categories": rare["rare"],
        "rare_categories_reproduced": rare["reproduced"],
        "rare_category_share": rare["share"],
        "ignored_columns": [str(c) for c in ignored],
        "distance": DISTANCE,
    }


def rare_reproduced(
    train: pd.DataFrame, synthetic: pd.DataFrame, categorical: Sequence[str]
) -> dict[str, Any]:
    """Categories seen at most twice in ``train`` (missing values aside) and how many of them
    ``synthetic`` contains: ``{"rare", "reproduced", "share"}`` (share None without rare categories)."""
    rare = reproduced = 0
    for c in categorical:
        counts = _text(train[c]).value_counts()
        counts = counts[counts.index != _MISSING]
        few = set(counts[counts <= 2].index)
        rare += len(few)
        reproduced += len(few & set(_text(synthetic[c]).unique()))
    return {"rare": rare, "reproduced": reproduced, "share": reproduced / rare if rare else None}


def _text(s: pd.Series) -> pd.Series:
    return s.astype(str).where(s.notna(), _MISSING)


def _subsample(df: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= k:
        return df
    return df.iloc[np.sort(rng.choice(len(df), size=k, replace=False))]


class _Encoder:
    """Standardised numbers (+ missing flags) and scaled one-hot categories, fitted on ``train``."""

    def __init__(self, train: pd.DataFrame, categorical: list[str]) -> None:
        self.numeric: list[tuple[str, float, float]] = []
        self.cats: list[tuple[str, dict[str, int]]] = []
        for c in train.columns:
            if c in categorical:
                top = _text(train[c]).value_counts().index[:MAX_CATEGORIES]
                self.cats.append((c, {v: j for j, v in enumerate(top)}))
            else:
                x = pd.to_numeric(train[c], errors="coerce").to_numpy(dtype=np.float64)
                mu = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
                sd = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
                self.numeric.append((c, mu, sd if sd > 0 else 1.0))

    def __call__(self, df: pd.DataFrame) -> np.ndarray:
        parts = []
        for c, mu, sd in self.numeric:
            x = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
            miss = ~np.isfinite(x)
            parts += [np.where(miss, 0.0, (x - mu) / sd)[:, None], miss.astype(np.float64)[:, None]]
        for c, index in self.cats:
            codes = _text(df[c]).map(index).fillna(len(index)).to_numpy(dtype=np.int64)
            onehot = np.zeros((len(df), len(index) + 1))  # the last position: any other category
            onehot[np.arange(len(df)), codes] = np.sqrt(0.5)
            parts.append(onehot)
        return np.hstack(parts) if parts else np.zeros((len(df), 1))


def _row_hashes(df: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    """One 64-bit hash per row, equal for rows equal on every column (ints and floats alike)."""
    canon = {}
    for c in df.columns:
        if c in categorical:
            canon[c] = _text(df[c])
        else:
            x = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
            miss = np.isnan(x)
            canon[c] = np.where(miss, 0.0, x) + 0.0  # + 0.0 turns -0.0 into 0.0
            canon[c + "\0missing"] = miss
    return np.asarray(pd.util.hash_pandas_object(pd.DataFrame(canon), index=False).to_numpy())


def summary_line(rep: dict[str, Any]) -> str:
    """One line for the command line: DCR against its baseline, exact copies, rare categories."""
    rare = (
        f"{rep['rare_categories_reproduced']}/{rep['rare_categories']} rare categories reproduced"
        if rep["rare_categories"]
        else "no rare categories"
    )
    base = "holdout" if rep["baseline"] == "holdout" else "train leave-one-out"
    return (
        f"privacy: DCR median {rep['dcr_synthetic_median']:.3g} ({base} baseline "
        f"{rep['dcr_baseline_median']:.3g}), p05 {rep['dcr_synthetic_p05']:.3g} "
        f"({rep['dcr_baseline_p05']:.3g}); {rep['exact_copies']} exact copies in "
        f"{rep['rows_synthetic']} rows; {rare}"
    )


__all__ = ["privacy_report", "rare_reproduced", "report_on_model_frames", "summary_line"]
