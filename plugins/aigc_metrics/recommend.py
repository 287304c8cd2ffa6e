"""Top-K recommendation scores as in Liang et al. (2018), "Variational autoencoders for
collaborative filtering": Recall@K normalised by min(K, #held-out items) and NDCG@K.

``scores (U, I)`` rank items per user (higher first); ``heldout (U, I)`` marks the held-out
relevant items (binary). Items a user already interacted with during training must be
excluded from ranking: pass them as ``exclude`` (they get score -inf). Users with no
held-out item are skipped.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from aigc_sdk.ranking import ndcg_at_k, recall_at_k


class RankingMetrics:
    """Streaming Recall@K and NDCG@K over batches of users.

    ``update(scores=..., heldout=..., exclude=None)``; ``compute()`` returns
    ``{"recall@20", "recall@50", "ndcg@100", ...}`` for every ``k`` in ``ks``: means over all
    users with held-out items.
    """

    name: ClassVar[str] = "recommend"
    higher_is_better: ClassVar[dict[str, bool]] = {}

    def __init__(self, ks: tuple[int, ...] = (20, 50, 100)) -> None:
        self.ks = tuple(ks)
        self.higher_is_better = {f"{m}@{k}": True for m in ("recall", "ndcg") for k in self.ks}
        self.extractor_name = "scores"
        self.reset()

    def reset(self) -> None:
        """Forget accumulated users."""
        self._sums = dict.fromkeys(self.higher_is_better, 0.0)
        self._users = 0

    def update(self, *, scores: Any, heldout: Any, exclude: Any = None, **_: Any) -> None:
        """Add a batch of users."""
        n = int((np.asarray(heldout) > 0).any(1).sum())
        for k in self.ks:
            self._sums[f"recall@{k}"] += recall_at_k(scores, heldout, k, exclude=exclude) * n
            self._sums[f"ndcg@{k}"] += ndcg_at_k(scores, heldout, k, exclude=exclude) * n
        self._users += n

    def compute(self) -> dict[str, float]:
        """User-averaged scores."""
        if not self._users:
            raise ValueError("recommend metrics need users; call update(scores=..., heldout=...) first")
        return {key: v / self._users for key, v in self._sums.items()}
