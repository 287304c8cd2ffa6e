"""Detection: how well a classifier tells synthetic rows from real ones (and the encoder it uses)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aigc_metrics.tabular.columns import CONTINUOUS, _check_tables, _numeric, column_types


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
