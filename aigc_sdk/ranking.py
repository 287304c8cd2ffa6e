"""Top-K ranking scores shared by the recommendation plugins, as in Liang et al. (2018),
"Variational autoencoders for collaborative filtering": Recall@K normalised by
min(K, #held-out items) and NDCG@K with binary relevance and 1 / log2(rank + 1) gains.

``scores (U, I)`` rank items per user (higher first; NumPy arrays or CPU tensors);
``heldout (U, I)`` marks the held-out relevant items (binary). Items a user already interacted
with during training must be excluded from ranking: pass them as ``exclude`` (they get score
-inf). Users with no held-out item are skipped; ties are broken by item order, so the result
is deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_numpy(x: Any) -> Any:
    """Tensors (any device) as NumPy arrays; everything else unchanged."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def _prepare(scores: Any, heldout: Any, k: int, exclude: Any) -> tuple[np.ndarray, np.ndarray, int]:
    scores, heldout, exclude = _as_numpy(scores), _as_numpy(heldout), _as_numpy(exclude)
    s = np.array(scores, dtype=np.float64)
    h = np.asarray(heldout)
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"scores must be a non-empty (users, items) matrix, got shape {s.shape}")
    if h.shape != s.shape:
        raise ValueError(f"heldout must have the shape of scores {s.shape}, got {h.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contains NaN")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    h = h > 0
    if exclude is not None:
        e = np.asarray(exclude)
        if e.shape != s.shape:
            raise ValueError(f"exclude must have the shape of scores {s.shape}, got {e.shape}")
        if (h & (e > 0)).any():
            raise ValueError("an item is both held out and excluded")
        s[e > 0] = -np.inf
    keep = h.sum(1) > 0
    if not keep.any():
        raise ValueError("no user has a held-out item")
    return s[keep], h[keep], min(k, s.shape[1])


def _topk(s: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best items per row, best first (ties by item order)."""
    part = (
        np.argpartition(-s, k - 1, axis=1)[:, :k]
        if k < s.shape[1]
        else np.tile(np.arange(s.shape[1]), (len(s), 1))
    )
    order = np.lexsort((part, -np.take_along_axis(s, part, 1)), axis=1)
    return np.take_along_axis(part, order, 1)


def recall_at_k(scores: Any, heldout: Any, k: int, *, exclude: Any = None) -> float:
    """Mean over users of hits in the top k / min(k, #held-out items)."""
    s, h, kk = _prepare(scores, heldout, k, exclude)
    hits = np.take_along_axis(h, _topk(s, kk), 1).sum(1)
    return float((hits / np.minimum(k, h.sum(1))).mean())


def ndcg_at_k(scores: Any, heldout: Any, k: int, *, exclude: Any = None) -> float:
    """Mean over users of DCG@k / ideal DCG@k with binary relevance and 1/log2(rank + 1) gains."""
    s, h, kk = _prepare(scores, heldout, k, exclude)
    discount = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = (np.take_along_axis(h, _topk(s, kk), 1) * discount).sum(1)
    idcg = np.array([discount[: min(n, kk)].sum() for n in h.sum(1)])
    return float((dcg / idcg).mean())
