"""ML efficacy: train on synthetic, test on real (TSTR) against train on real."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aigc_metrics.tabular.columns import column_types
from aigc_metrics.tabular.detection import TableEncoder


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
