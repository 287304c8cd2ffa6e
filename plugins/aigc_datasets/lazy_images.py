"""Images decoded from their files on access, for folders too large to hold as one float array.

:class:`LazyImageDataset` keeps only the file paths (one joined byte buffer plus offsets) and the
labels (an int64 array), so its memory is a few dozen bytes per image whatever the image size, it
pickles cheaply into DataLoader worker processes, and forked workers do not copy it: a Python list
of ``str`` would be touched (reference counts) and so copied page by page in every worker.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

MODES = ("L", "RGB")


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def decode_image(path: str | os.PathLike[str], mode: str, size: int | None = None) -> np.ndarray:
    """Decode one image file to float32 values in [0, 1]: ``(H, W)`` for mode ``"L"``,
    ``(H, W, 3)`` for ``"RGB"``; ``size`` resizes to ``(size, size)`` (bilinear).

    Raises :class:`~aigc_sdk.errors.CorruptFileError` naming the file when PIL cannot read it.
    The in-memory and the streaming image folder both decode through here, so their tensors agree.
    """
    from PIL import Image, UnidentifiedImageError

    from aigc_sdk.errors import CorruptFileError

    try:
        with Image.open(path) as raw:
            im = raw.convert(mode)
            if size is not None:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:  # PIL's ways of saying "broken file"
        raise CorruptFileError(f"image {str(path)!r} cannot be read: {_reason(exc)}") from None


def image_shape(path: str | os.PathLike[str], mode: str) -> tuple[int, ...]:
    """The array shape :func:`decode_image` would give without ``size`` (``(H, W)`` or
    ``(H, W, 3)``), read from the file header only: no pixel data is decoded."""
    from PIL import Image, UnidentifiedImageError

    from aigc_sdk.errors import CorruptFileError

    try:
        with Image.open(path) as raw:  # PIL reads the header here; pixels only on .load()
            width, height = raw.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptFileError(f"image {str(path)!r} cannot be read: {_reason(exc)}") from None
    return (height, width) if mode == "L" else (height, width, 3)


class LazyImageDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A map-style data set of image files decoded on access.

    ``ds[i]`` is ``(x, y)``: ``x`` a float32 tensor ``(C, H, W)`` in [0, 1] (``C`` is 1 for mode
    ``"L"``, 3 for ``"RGB"``), resized to ``size`` when given, and ``y`` a 0-dim int64 tensor.
    Nothing is decoded at construction. A file that cannot be decoded raises
    :class:`~aigc_sdk.errors.CorruptFileError` naming it.

    Args:
        paths: the image files, in data-set order.
        labels: one class index per file.
        mode: ``"L"`` or ``"RGB"``.
        size: resize every image to ``(size, size)``; without it each file must decode to
            ``sample_shape`` (the caller checks the headers).
        sample_shape: ``(C, H, W)`` of every item.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        labels: Sequence[int] | np.ndarray,
        *,
        mode: str,
        size: int | None,
        sample_shape: tuple[int, int, int],
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
        encoded = [os.fsencode(p) for p in paths]
        labels_arr = np.asarray(labels, dtype=np.int64)
        if labels_arr.shape != (len(encoded),):
            raise ValueError(f"labels must have shape ({len(encoded)},), got {labels_arr.shape}")
        self._buf = b"".join(encoded)
        self._offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self._offsets[1:])
        self._labels = labels_arr
        self._index: np.ndarray | None = None  # rows of the path table this view serves; None: all
        self.mode, self.size = mode, size
        self.sample_shape = tuple(int(d) for d in sample_shape)

    def subset(self, indices: Sequence[int] | np.ndarray) -> LazyImageDataset:
        """A view over ``indices`` (positions in this data set) sharing the path table."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1:
            raise ValueError(f"indices must be one-dimensional, got shape {idx.shape}")
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"indices out of range for a data set of {n} images")
        idx = np.where(idx < 0, idx + n, idx)
        view = object.__new__(LazyImageDataset)
        view.__dict__.update(self.__dict__)
        view._index = idx if self._index is None else self._index[idx]
        return view

    def __len__(self) -> int:
        return len(self._labels) if self._index is None else len(self._index)

    def _row(self, i: Any) -> int:
        n = len(self)
        i = operator.index(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for a data set of {n} images")
        return i if self._index is None else int(self._index[i])

    def path(self, i: int) -> str:
        """The file behind item ``i``."""
        row = self._row(i)
        return os.fsdecode(self._buf[self._offsets[row] : self._offsets[row + 1]])

    def label(self, i: int) -> int:
        """The class index of item ``i`` (no decoding)."""
        return int(self._labels[self._row(i)])

    @property
    def labels(self) -> np.ndarray:
        """The class index of every item, in order (a new array)."""
        return self._labels.copy() if self._index is None else self._labels[self._index]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self._row(i)
        path = os.fsdecode(self._buf[self._offsets[row] : self._offsets[row + 1]])
        arr = decode_image(path, self.mode, self.size)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if arr.shape != self.sample_shape:  # the file was replaced since the headers were checked
            raise ValueError(
                f"image {path!r} has shape {arr.shape}, not the data set's {self.sample_shape}; pass size="
            )
        x = torch.from_numpy(np.ascontiguousarray(arr))
        return x, torch.tensor(self._labels[row], dtype=torch.int64)

    def __repr__(self) -> str:
        return (
            f"LazyImageDataset(n={len(self)}, sample_shape={self.sample_shape}, mode={self.mode!r}, "
            f"size={self.size})"
        )
