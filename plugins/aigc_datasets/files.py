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

from aigc_datasets.base import ArrayDataset
from aigc_sdk.errors import UsageError

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


class ImageFolder(ArrayDataset):
    """Images in class subfolders (``root/<class>/*.png``); classes are the sorted folder names.

    Args:
        root: the directory.
        size: resize every image to ``(size, size)``; without it all images must share one size.
        mode: ``"L"`` (grey) or ``"RGB"``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int | None = None,
        mode: str = "L",
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        from PIL import Image, UnidentifiedImageError

        from aigc_sdk.errors import CorruptFileError

        if mode not in ("L", "RGB"):
            raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"size must be a positive int or None, got {size!r}")
        base = Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"image folder {str(base)!r} does not exist")
        classes = sorted(d.name for d in base.iterdir() if d.is_dir())
        if not classes:
            raise ValueError(f"image folder {str(base)!r} has no class subfolders")
        images, labels = [], []
        for label, cls in enumerate(classes):
            for f in sorted((base / cls).iterdir()):
                if f.suffix.lower() in _IMAGE_EXTS:
                    try:
                        with Image.open(f) as raw:
                            im = raw.convert(mode)
                            if size is not None:
                                im = im.resize((size, size), Image.Resampling.BILINEAR)
                            images.append(np.asarray(im, dtype=np.float32) / 255.0)
                    except (UnidentifiedImageError, OSError, SyntaxError) as exc:  # PIL: broken files
                        reason = " ".join(str(exc).split()) or type(exc).__name__
                        raise CorruptFileError(f"image {str(f)!r} cannot be read: {reason}") from None
                    labels.append(label)
        if not images:
            raise ValueError(f"image folder {str(base)!r} holds no images ({', '.join(sorted(_IMAGE_EXTS))})")
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise ValueError(
                f"images in {str(base)!r} have different sizes {sorted(shapes)[:3]}...; pass size="
            )
        x = np.stack(images)
        x = x[:, None] if mode == "L" else x.transpose(0, 3, 1, 2)
        self.classes = classes
        super().__init__(
            base.name or "images",
            x,
            np.asarray(labels),
            num_classes=len(classes),
            test_fraction=test_fraction,
            seed=seed,
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
