"""Anomaly-detection scores: ROC-AUC, average precision and precision@k.

Scores are "higher = more anomalous"; labels are 1 for anomalies and 0 for normal samples.
Ties are handled exactly: ROC-AUC counts a tied (anomaly, normal) pair as 1/2 and average
precision evaluates precision once per distinct score threshold.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.stats import rankdata


def _check(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.size == 0:
        raise ValueError("scores is empty")
    if y.shape != s.shape:
        raise ValueError(f"labels must have the same length as scores ({s.size}), got {y.size}")
    if not np.isfinite(s).all():
        raise ValueError("scores contains NaN or infinite values")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    return s, y.astype(bool)


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos n_neg), ties count 1/2)."""
    s, y = _check(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("labels must contain both anomalies (1) and normal samples (0)")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(scores: Any, labels: Any) -> float:
    """Average precision: sum over distinct thresholds of (recall step) x precision."""
    s, y = _check(scores, labels)
    n_pos = int(y.sum())
    if n_pos == 0:
        raise ValueError("labels must contain at least one anomaly (1)")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last index of each tie group
    tp_t, n_t = tp[last], last + 1
    recall_step = np.diff(np.r_[0, tp_t]) / n_pos
    return float((recall_step * tp_t / n_t).sum())


def precision_at_k(scores: Any, labels: Any, k: int | None = None) -> float:
    """Share of anomalies among the ``k`` highest scores (``k`` defaults to the number of
    anomalies, i.e. R-precision). Ties at the cut-off are broken by input order."""
    s, y = _check(scores, labels)
    k = int(y.sum()) if k is None else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= s.size:
        raise ValueError(f"k must be an int in [1, {s.size}], got {k!r}")
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean())


class AnomalyMetrics:
    """Streaming anomaly scores: ``update(scores=..., labels=...)`` or ``update(real=normal_scores,
    fake=anomaly_scores)``; ``compute()`` returns ``{"roc_auc", "average_precision", "precision_at_k"}``.
    """

    name: ClassVar[str] = "anomaly"
    higher_is_better: ClassVar[dict[str, bool]] = {
        "roc_auc": True,
        "average_precision": True,
        "precision_at_k": True,
    }

    def __init__(self, k: int | None = None) -> None:
        self.k = k
        self.extractor_name = "scores"
        self.reset()

    def reset(self) -> None:
        """Forget accumulated scores."""
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def update(self, *, scores: Any = None, labels: Any = None, real: Any = None, fake: Any = None) -> None:
        """Add scored samples (``real`` = normal samples' scores, ``fake`` = anomalies')."""
        if scores is not None:
            s, y = _check(scores, labels)
            self._scores.append(s)
            self._labels.append(y)
        for part, lab in ((real, False), (fake, True)):
            if part is not None:
                s = np.asarray(part, dtype=np.float64).reshape(-1)
                s, y = _check(s, np.full(s.shape, int(lab)))
                self._scores.append(s)
                self._labels.append(y)

    def compute(self) -> dict[str, float]:
        """All three scores on everything seen so far."""
        if not self._scores:
            raise ValueError("anomaly metrics need scores; call update(scores=..., labels=...) first")
        s, y = np.concatenate(self._scores), np.concatenate(self._labels)
        return {
            "roc_auc": roc_auc(s, y),
            "average_precision": average_precision(s, y),
            "precision_at_k": precision_at_k(s, y, self.k),
        }
