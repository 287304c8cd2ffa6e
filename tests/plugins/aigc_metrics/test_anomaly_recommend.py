"""Anomaly and recommendation scores against scikit-learn and straightforward loops."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from aigc_metrics.anomaly import AnomalyMetrics, average_precision, precision_at_k, roc_auc
from aigc_metrics.recommend import RankingMetrics, ndcg_at_k, recall_at_k


def test_anomaly_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.2
    s = np.round(rng.standard_normal(300) + y, 1)  # rounding creates ties
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    assert average_precision(s, y) == pytest.approx(average_precision_score(y, s), rel=1e-12)
    k = 25
    assert precision_at_k(s, y, k) == y[np.argsort(-s, kind="stable")[:k]].mean()
    ev = AnomalyMetrics(k=k)
    ev.update(real=s[~y], fake=s[y])
    out = ev.compute()
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y, s), rel=1e-12)
    with pytest.raises(ValueError, match="both"):
        roc_auc(s, np.zeros(300))
    with pytest.raises(ValueError, match="labels must have the same length"):
        roc_auc(s, y[:10])


def reference_recall_ndcg(scores, heldout, k):
    recalls, ndcgs = [], []
    for s, h in zip(scores, heldout):
        if h.sum() == 0:
            continue
        top = sorted(range(len(s)), key=lambda i: (-s[i], i))[:k]
        hits = [h[i] for i in top]
        recalls.append(sum(hits) / min(k, h.sum()))
        dcg = sum(r / np.log2(i + 2) for i, r in enumerate(hits))
        idcg = sum(1 / np.log2(i + 2) for i in range(min(k, int(h.sum()))))
        ndcgs.append(dcg / idcg)
    return np.mean(recalls), np.mean(ndcgs)


@pytest.mark.parametrize("k", [1, 5, 20, 40])
def test_recall_ndcg_match_loops(k):
    rng = np.random.default_rng(k)
    scores = rng.standard_normal((30, 40))
    heldout = (rng.random((30, 40)) < 0.1).astype(int)
    heldout[0] = 0  # a user with nothing held out is skipped
    r, n = reference_recall_ndcg(scores, heldout, k)
    assert recall_at_k(scores, heldout, k) == pytest.approx(r, rel=1e-12)
    assert ndcg_at_k(scores, heldout, k) == pytest.approx(n, rel=1e-12)


def test_ranking_evaluator_streams_and_excludes():
    rng = np.random.default_rng(9)
    scores = rng.standard_normal((20, 30))
    heldout = (rng.random((20, 30)) < 0.15).astype(int)
    train = ((rng.random((20, 30)) < 0.2) & (heldout == 0)).astype(int)
    ev = RankingMetrics(ks=(5, 10))
    ev.update(scores=scores[:8], heldout=heldout[:8], exclude=train[:8])
    ev.update(scores=scores[8:], heldout=heldout[8:], exclude=train[8:])
    masked = np.where(train > 0, -np.inf, scores)
    out = ev.compute()
    assert out["recall@5"] == pytest.approx(recall_at_k(masked, heldout, 5), rel=1e-12)
    assert out["ndcg@10"] == pytest.approx(ndcg_at_k(masked, heldout, 10), rel=1e-12)
    with pytest.raises(ValueError, match="heldout must have the shape"):
        recall_at_k(scores, heldout[:3], 5)
