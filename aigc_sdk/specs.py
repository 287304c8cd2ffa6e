"""Argument checks shared by model implementations (first-party and third-party plugins).

Kept free of torch so plugins can call them from constructors without extra cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_sample_count(n: Any, arg: str = "n") -> int:
    """Return ``n`` if it is a non-negative int, else raise ValueError naming ``arg``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{arg} must be a non-negative int, got {n!r}")
    return n


def check_data_shape(data_shape: Any) -> tuple[int, ...]:
    """Validate ``data_shape`` (``(C, H, W)`` or ``(D,)`` of positive ints) and return it as a tuple."""
    if not isinstance(data_shape, (list, tuple)) or len(data_shape) not in (1, 3):
        raise ValueError(f"data_shape must be (C, H, W) or (D,), got {data_shape!r}")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in data_shape):
        raise ValueError(f"data_shape must hold positive ints, got {data_shape!r}")
    return tuple(data_shape)


def resolve_data_spec(
    data_shape: Sequence[int] | None, num_classes: int | None, dataset: str | None
) -> tuple[tuple[int, ...], int | None]:
    """Return ``(data_shape, num_classes)``, filled from the registered data set ``dataset``
    when only its name is given, and validated either way."""
    if dataset is not None:
        if not isinstance(dataset, str):
            raise ValueError(f"dataset must be a registered data set name, got {dataset!r}")
        from aigc_sdk.registry import load_dataset

        provider = load_dataset(dataset)
        data_shape = data_shape or provider.sample_shape
        num_classes = num_classes if num_classes is not None else provider.num_classes
    if data_shape is None:
        raise ValueError("data_shape is required (e.g. [1, 28, 28]) unless dataset= names a data set")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
    ):
        raise ValueError(f"num_classes must be an int >= 2 or None, got {num_classes!r}")
    return check_data_shape(list(data_shape)), num_classes
