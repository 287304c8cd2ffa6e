"""Data sets read from local files: MNIST-format idx directories (Fashion-MNIST), image folders,
NumPy/tensor arrays and CSV tables. Nothing is downloaded."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc_datasets.base import SPLITS, ArrayDataset, stratified_split
from aigc_datasets.lazy_images import MODES, LazyImageDataset, decode_image, image_shape
from aigc_sdk.errors import UsageError
from aigc_sdk.interfaces import DatasetProvider

#: Where the Debian package ``dataset-fashion-mnist`` installs its idx files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an idx file (the MNIST format; ``.gz`` accepted) into a NumPy array."""
    path = Path(path)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an idx file (bad magic number {data[:4]!r})")
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
    count = int(np.prod(dims)) if dims else 1
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(
            f"{path}: header says shape {dims} but the file holds {len(data) - header} data bytes"
        )
    return np.frombuffer(data[header:], dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


class IdxDataset(ArrayDataset):
    """Any MNIST-format directory (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``); the official train/test split is kept.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, name: str = "idx", missing_hint: str | None = None
    ) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise ValueError(f"root must be a directory path, got {root!r}")
        base = Path(root)
        paths = {k: _find(base, stem) for k, stem in _IDX_FILES.items()}
        missing = [_IDX_FILES[k] for k, p in paths.items() if p is None]
        if missing:
            hint = missing_hint or "pass root= to a directory holding MNIST-format idx files"
            raise FileNotFoundError(
                f"data set {name!r} not found: {base} lacks {', '.join(missing)} (.gz or not); {hint}"
            )
        arrays = {k: read_idx(p) for k, p in paths.items() if p is not None}
        x = np.concatenate([arrays["train_x"], arrays["test_x"]]).astype(np.float32)
        if x.ndim != 3:
            raise ValueError(f"{name}: image files must hold (N, H, W) arrays, got shape {x.shape}")
        if x.max() > 1.0:
            x = x / 255.0
        y = np.concatenate([arrays["train_y"], arrays["test_y"]]).astype(np.int64)
        super().__init__(name, x[:, None], y)
        n_train = arrays["train_x"].shape[0]
        self._train_idx, self._test_idx = np.arange(n_train), np.arange(n_train, x.shape[0])


class FashionMnist(IdxDataset):
    """Fashion-MNIST (70,000 28x28 grey images, 10 classes) from the Debian package
    ``dataset-fashion-mnist`` or any directory with the same idx files (``root=``)."""

    def __init__(self, *, root: str | os.PathLike[str] | None = None) -> None:
        hint = (
            f"install the Debian package {FASHION_MNIST_PACKAGE!r} (apt-get install {FASHION_MNIST_PACKAGE}) "
            "or pass root= to a directory with the Fashion-MNIST idx files"
        )
        super().__init__(
            root or os.environ.get("AIGC_SDK_FASHION_MNIST", FASHION_MNIST_DIR),
            name="fashion-mnist",
            missing_hint=hint,
        )


#: ``ImageFolder(stream=None)`` streams a folder holding more than this many images from disk
#: instead of decoding them all into one float32 array (64x64 RGB: 48 KiB per image in memory).
STREAM_THRESHOLD = 10_000


def _list_image_folder(base: Path) -> tuple[list[str], list[Path], np.ndarray]:
    """(classes, image files, labels) of ``base/<class>/*``; the one listing both modes use,
    so their order and splits agree."""
    classes = sorted(d.name for d in base.iterdir() if d.is_dir())
    if not classes:
        raise ValueError(f"image folder {str(base)!r} has no class subfolders")
    files: list[Path] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        found = [f for f in sorted((base / cls).iterdir()) if f.suffix.lower() in _IMAGE_EXTS]
        files += found
        labels += [label] * len(found)
    if not files:
        raise ValueError(f"image folder {str(base)!r} holds no images ({', '.join(sorted(_IMAGE_EXTS))})")
    return classes, files, np.asarray(labels, dtype=np.int64)


def _different_sizes(base: Path, shapes: set[tuple[int, ...]]) -> ValueError:
    return ValueError(f"images in {str(base)!r} have different sizes {sorted(shapes)[:3]}...; pass size=")


class ImageFolder(DatasetProvider):
    """Images in class subfolders (``root/<class>/*.png``); classes are the sorted folder names.

    Args:
        root: the directory.
        size: resize every image to ``(size, size)``; without it all images must share one size.
        mode: ``"L"`` (grey) or ``"RGB"``.
        stream: ``False`` decodes every image into one float32 array at construction;
            ``True`` keeps only the file paths and decodes each image when it is accessed
            (:meth:`load` then returns a :class:`~aigc_datasets.lazy_images.LazyImageDataset`,
            memory stays a few dozen bytes per image); ``None`` (default) streams when the folder
            holds more than :data:`STREAM_THRESHOLD` (10,000) images. Both give the same tensors
            and the same splits.
        test_fraction: share of each class held out as the ``test`` split.
        seed: seed of the stratified split.

    Without ``size``, images of different sizes raise a ValueError at construction (in stream
    mode from the file headers, without decoding).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int | None = None,
        mode: str = "L",
        stream: bool | None = None,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"size must be a positive int or None, got {size!r}")
        if stream is not None and not isinstance(stream, bool):
            raise ValueError(f"stream must be true, false or None (auto), got {stream!r}")
        base = Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"image folder {str(base)!r} does not exist")
        classes, files, labels = _list_image_folder(base)
        self.classes = classes
        self.name = base.name or "images"
        self.num_classes: int | None = len(classes)
        self.test_fraction, self.seed = test_fraction, seed
        self._n = len(files)
        self.stream = len(files) > STREAM_THRESHOLD if stream is None else stream
        self._arrays: ArrayDataset | None = None
        self._lazy: LazyImageDataset | None = None
        channels = 1 if mode == "L" else 3
        if self.stream:
            if size is None:
                shapes = {image_shape(f, mode) for f in files}
                if len(shapes) > 1:
                    raise _different_sizes(base, shapes)
                height, width = next(iter(shapes))[:2]
            else:
                height = width = size
            self._lazy = LazyImageDataset(
                [str(f) for f in files], labels, mode=mode, size=size, sample_shape=(channels, height, width)
            )
            self.sample_shape: tuple[int, ...] = self._lazy.sample_shape
            self._train_idx, self._test_idx = stratified_split(labels, len(files), test_fraction, seed)
        else:
            images = [decode_image(f, mode, size) for f in files]
            shapes = {im.shape for im in images}
            if len(shapes) > 1:
                raise _different_sizes(base, shapes)
            x = np.stack(images)
            del images  # the stacked copy is all that is kept
            x = x[:, None] if mode == "L" else x.transpose(0, 3, 1, 2)
            self._arrays = ArrayDataset(
                self.name, x, labels, num_classes=len(classes), test_fraction=test_fraction, seed=seed
            )
            self.sample_shape = self._arrays.sample_shape
            self._train_idx, self._test_idx = self._arrays._train_idx, self._arrays._test_idx

    @property
    def x(self) -> torch.Tensor:
        """All images as one ``(N, C, H, W)`` tensor (in-memory mode only)."""
        if self._arrays is None:
            raise AttributeError("a streaming ImageFolder holds no image array (use load(split)[i])")
        return self._arrays.x

    @property
    def y(self) -> torch.Tensor:
        """All labels as one ``(N,)`` int64 tensor (in-memory mode only)."""
        if self._arrays is None:
            raise AttributeError("a streaming ImageFolder holds no label tensor (use load(split)[i])")
        assert self._arrays.y is not None
        return self._arrays.y

    def load(self, split: str = "train") -> Any:
        """Return the ``train``, ``test`` or ``all`` split: a TensorDataset in memory, a
        :class:`~aigc_datasets.lazy_images.LazyImageDataset` when streaming; items are ``(x, y)``."""
        if self._arrays is not None:
            return self._arrays.load(split)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        assert self._lazy is not None
        if split == "all":
            return self._lazy
        return self._lazy.subset(self._train_idx if split == "train" else self._test_idx)

    def __repr__(self) -> str:
        return (
            f"ImageFolder(name={self.name!r}, n={self._n}, sample_shape={self.sample_shape}, "
            f"num_classes={self.num_classes}, stream={self.stream})"
        )


class Arrays(ArrayDataset):
    """NumPy arrays or tensors given directly (``x=``, optional ``y=``) or a ``.npy``/``.npz`` file
    (``path=``; an ``.npz`` holds ``x`` and optionally ``y``)."""

    def __init__(
        self,
        x: Any = None,
        y: Any = None,
        *,
        path: str | os.PathLike[str] | None = None,
        name: str = "arrays",
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        if path is not None:
            if x is not None:
                raise ValueError("give either x= or path=, not both")
            p = Path(path)
            if not p.is_file():
                raise FileNotFoundError(f"array file {str(p)!r} does not exist")
            loaded = np.load(p, allow_pickle=False)  # never unpickle object arrays
            if isinstance(loaded, np.lib.npyio.NpzFile):
                if "x" not in loaded:
                    raise ValueError(f"{p} must contain an array named 'x'")
                x, y = loaded["x"], loaded.get("y", y)
            else:
                x = loaded
            if np.iscomplexobj(x):
                raise UsageError(f"{p}: dtype {x.dtype} is complex; expected real numbers (e.g. float32)")
        if x is None:
            raise ValueError("x is required (an array or tensor of shape (N, ...)), or pass path=")
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        super().__init__(
            name,
            np.asarray(x, dtype=np.float32),
            None if y is None else np.asarray(y),
            test_fraction=test_fraction,
            seed=seed,
        )


class CsvTable(ArrayDataset):
    """A numeric CSV table (header row required). ``label_column`` names an optional class column
    (any values; mapped to 0..K-1 in sorted order); other columns become float features."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        label_column: str | None = None,
        delimiter: str = ",",
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"CSV file {str(p)!r} does not exist")
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter=delimiter))
        if len(rows) < 2:
            raise ValueError(f"{p} needs a header row and at least one data row")
        header, body = rows[0], [r for r in rows[1:] if r]
        if label_column is not None and label_column not in header:
            raise ValueError(f"label_column {label_column!r} is not a column of {p}; columns: {header}")
        feat_cols = [i for i, h in enumerate(header) if h != label_column]
        try:
            x = np.array([[float(r[i]) for i in feat_cols] for r in body], dtype=np.float32)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{p}: feature columns must be numeric ({exc})") from exc
        y = None
        if label_column is not None:
            j = header.index(label_column)
            raw = [r[j] for r in body]
            self.classes = sorted(set(raw))
            lookup = {c: i for i, c in enumerate(self.classes)}
            y = np.array([lookup[v] for v in raw], dtype=np.int64)
        self.columns = [header[i] for i in feat_cols]
        super().__init__(
            p.stem,
            x,
            y,
            num_classes=len(self.classes) if y is not None else None,
            test_fraction=test_fraction,
            seed=seed,
        )
