"""Input checks: turn the accepted data forms into image / label tensors, with clear errors."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from aigc_sdk.interfaces import DatasetProvider, split_tensors


def _tensors(data: Any, what: str) -> tuple[Tensor, ...]:
    """The tensors behind a TensorDataset, a provider's train split, a tuple or a single tensor."""
    if isinstance(data, DatasetProvider):
        return split_tensors(data.load("train"))  # a streaming folder is decoded here
    if isinstance(data, TensorDataset):
        return tuple(data.tensors)
    if isinstance(data, Tensor):
        return (data,)
    if isinstance(data, (tuple, list)) and data and all(isinstance(t, Tensor) for t in data):
        return tuple(data)
    raise ValueError(
        f"{what} must be a TensorDataset, a DatasetProvider, an (x, y) tuple of tensors or an image tensor, "
        f"got {type(data).__name__}"
    )


def check_images(x: Tensor, what: str, sample_shape: tuple[int, ...] | None = None) -> Tensor:
    """Validate an image batch ``(N, C, H, W)`` of finite floats (and its shape when given)."""
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{what} must be images of shape (N, C, H, W), got {shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{what} is empty")
    if sample_shape is not None and tuple(x.shape[1:]) != tuple(sample_shape):
        raise ValueError(f"{what} has image shape {tuple(x.shape[1:])}, expected {tuple(sample_shape)}")
    x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"{what} must be scaled to [0, 1], got range [{float(x.min()):.3g}, {float(x.max()):.3g}]"
        )
    return x


def labelled_images(data: Any, num_classes: int | None = None) -> tuple[Tensor, Tensor, int]:
    """Return ``(x, y, num_classes)`` from labelled data; unlabelled data is a ValueError."""
    tensors = _tensors(data, "dataset")
    if len(tensors) < 2:
        raise ValueError(
            "class-conditional augmentation needs a labelled dataset (x, y); got images without labels "
            "(pass unlabelled images through unlabelled=... instead)"
        )
    x = check_images(tensors[0], "dataset images")
    y = tensors[1]
    if y.shape != (x.shape[0],) or y.is_floating_point():
        raise ValueError(
            f"labels must be integer class ids of shape ({x.shape[0]},), got {tuple(y.shape)} {y.dtype}"
        )
    y = y.long()
    if y.min() < 0:
        raise ValueError("labels must be non-negative class ids")
    k = int(y.max()) + 1 if num_classes is None else num_classes
    if k < 2:
        raise ValueError(f"need at least 2 classes, got {k}")
    if y.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got max {int(y.max())}")
    return x, y, k


def unlabelled_images(data: Any, sample_shape: tuple[int, ...]) -> Tensor:
    """Images of ``data`` with any labels it carries dropped (they must never reach the generator)."""
    return check_images(_tensors(data, "unlabelled")[0], "unlabelled images", sample_shape)
