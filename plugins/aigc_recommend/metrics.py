"""Recall@K and NDCG@K as defined by Liang et al. (2018), on torch tensors.

Used inside :meth:`Recommender.fit` to choose the epoch on validation users (fast, no plugin
lookup in the training loop). Reports go through the SDK's ``recommend`` evaluator when it is
installed; both implement the same definitions:

* Recall@K = hits in the top K / min(K, #held-out items), averaged over users;
* NDCG@K = DCG@K / ideal DCG@K with binary relevance and gain 1 / log2(rank + 1).

Users without held-out items are skipped; already-seen items must be masked by the caller.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(scores: Tensor, heldout: Tensor, k: int) -> Tensor:
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if scores.shape != heldout.shape or scores.ndim != 2:
        raise ValueError(
            f"scores {tuple(scores.shape)} and heldout {tuple(heldout.shape)} must be equal 2-D shapes"
        )
    return heldout.sum(1) > 0


def recall_at_k(scores: Tensor, heldout: Tensor, k: int) -> float:
    """Mean Recall@k (normalised by min(k, #held-out))."""
    keep = _check(scores, heldout, k)
    s, h = scores[keep], heldout[keep] > 0
    k = min(k, s.shape[1])
    top = s.topk(k, dim=1).indices
    hits = h.gather(1, top).sum(1).double()
    return float((hits / h.sum(1).clamp(max=k)).mean())


def ndcg_at_k(scores: Tensor, heldout: Tensor, k: int) -> float:
    """Mean NDCG@k with binary relevance."""
    keep = _check(scores, heldout, k)
    s, h = scores[keep], heldout[keep] > 0
    k = min(k, s.shape[1])
    top = s.topk(k, dim=1).indices
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (h.gather(1, top).double() * discount).sum(1)
    ideal = torch.cumsum(discount, 0)[h.sum(1).clamp(max=k) - 1]
    return float((dcg / ideal).mean())
