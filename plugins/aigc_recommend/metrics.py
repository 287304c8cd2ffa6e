"""Recall@K and NDCG@K for the recommender: the SDK's shared definitions
(:mod:`aigc_sdk.ranking`), re-exported where the recommender has always imported them."""

from __future__ import annotations

from aigc_sdk.ranking import ndcg_at_k, recall_at_k

__all__ = ["ndcg_at_k", "recall_at_k"]
