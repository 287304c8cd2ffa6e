"""Turning user-item interactions into a binary user x item matrix, with id mappings.

Accepts a pandas DataFrame of ``(user, item[, rating])`` rows or a dense ``(users, items)``
array. Ratings below ``min_rating`` are dropped (Liang et al. keep ratings >= 4 as positives).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from aigc_sdk.specs import check_allocation


class ItemIndex:
    """Bidirectional mapping between external item ids and matrix columns."""

    def __init__(self, ids: Sequence[Any]) -> None:
        self.ids = list(ids)
        self.pos = {item: i for i, item in enumerate(self.ids)}
        if len(self.pos) != len(self.ids):
            raise ValueError("item ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, items: Iterable[Any], *, who: str = "") -> list[int]:
        """Columns of ``items``; raises ``ValueError`` naming the unknown ids."""
        items = list(items)
        unknown = [i for i in items if i not in self.pos]
        if unknown:
            raise ValueError(
                f"unknown item ids{' for ' + who if who else ''}: {unknown[:5]} (not seen in fit)"
            )
        return [self.pos[i] for i in items]


def frame_to_matrix(
    frame: Any,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    rating_col: str | None = None,
    min_rating: float | None = None,
    items: ItemIndex | None = None,
) -> tuple[np.ndarray, list[Any], ItemIndex]:
    """``(matrix (U, I) float32 in {0, 1}, user ids, item index)`` from an interactions frame.

    With ``items`` given, the columns follow it and unknown items raise ``ValueError``.
    """
    if not hasattr(frame, "columns"):
        raise ValueError(
            f"interactions must be a DataFrame or a (users, items) matrix, got {type(frame).__name__}"
        )
    if len(frame) == 0:
        raise ValueError("interactions frame is empty")
    missing = [c for c in (user_col, item_col, rating_col) if c is not None and c not in frame.columns]
    if missing:
        raise ValueError(f"interactions has no column(s) {missing}; columns are {list(frame.columns)}")
    if frame[[user_col, item_col]].isna().any().any():
        raise ValueError(f"interactions has missing {user_col}/{item_col} values")
    if min_rating is not None:
        if rating_col is None:
            raise ValueError("min_rating needs rating_col")
        frame = frame[frame[rating_col] >= min_rating]
        if len(frame) == 0:
            raise ValueError(f"no interaction has {rating_col} >= {min_rating}")
    users = sorted(frame[user_col].unique().tolist())
    if items is None:
        items = ItemIndex(sorted(frame[item_col].unique().tolist()))
    rows = {u: i for i, u in enumerate(users)}
    r = frame[user_col].map(rows).to_numpy()
    c = np.asarray(items.encode(frame[item_col].tolist()))
    check_allocation(
        f"{user_col!r} x {item_col!r}: {len(users)} users x {len(items)} items",
        len(users) * len(items) * 4,
        purpose="for the dense float32 interaction matrix",
        hint="train on fewer users or items (e.g. --min-rating, a sample of users, or without rare items)",
    )
    mat = np.zeros((len(users), len(items)), dtype=np.float32)
    mat[r, c] = 1.0
    return mat, users, items


def as_matrix(data: Any, n_items: int | None = None) -> np.ndarray:
    """Validate a dense ``(users, items)`` interaction matrix (any positive value = interaction)."""
    if hasattr(data, "toarray"):  # scipy sparse
        data = data.toarray()
    try:
        mat = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"interactions must be numeric: {exc}") from None
    if mat.ndim != 2 or mat.size == 0:
        raise ValueError(f"interaction matrix must be non-empty 2-D (users, items), got shape {mat.shape}")
    if n_items is not None and mat.shape[1] != n_items:
        raise ValueError(f"interaction matrix has {mat.shape[1]} item columns, the model knows {n_items}")
    if not np.isfinite(mat).all():
        raise ValueError("interaction matrix contains NaN or infinite values")
    return (mat > 0).astype(np.float32)


def histories_to_matrix(
    user_items: Mapping[Any, Iterable[Any]] | Sequence[Iterable[Any]], items: ItemIndex
) -> tuple[np.ndarray, list[Any]]:
    """Fold-in matrix from ``{user: [item ids]}`` or a list of item-id lists (keys 0..n-1)."""
    if isinstance(user_items, Mapping):
        keys, hists = list(user_items.keys()), list(user_items.values())
    elif isinstance(user_items, Sequence) and not isinstance(user_items, (str, bytes)):
        keys, hists = list(range(len(user_items))), list(user_items)
    else:
        raise ValueError("user_items must be a mapping user -> item ids or a list of item-id lists")
    if not keys:
        raise ValueError("user_items is empty")
    mat = np.zeros((len(keys), len(items)), dtype=np.float32)
    for row, (key, hist) in enumerate(zip(keys, hists)):
        if isinstance(hist, (str, bytes)) or not isinstance(hist, Iterable):
            raise ValueError(f"history of user {key!r} must be a list of item ids")
        cols = items.encode(hist, who=f"user {key!r}")
        mat[row, cols] = 1.0
    return mat, keys
