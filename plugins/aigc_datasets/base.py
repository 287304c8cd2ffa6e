"""In-memory data set provider with deterministic, stratified train/test splits."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from aigc_sdk.interfaces import DatasetProvider

SPLITS = ("train", "test", "all")


def stratified_split(
    labels: np.ndarray | None, n: int, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_idx, test_idx); stratified by ``labels`` when given. Same seed, same split."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    if labels is None:
        perm = rng.permutation(n)
        n_test = max(1, round(n * test_fraction))
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    train, test = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = round(len(idx) * test_fraction)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class ArrayDataset(DatasetProvider):
    """A provider over arrays already in memory (images in [0, 1] or feature vectors)."""

    def __init__(
        self,
        name: str,
        x: np.ndarray | torch.Tensor,
        y: np.ndarray | torch.Tensor | None = None,
        *,
        num_classes: int | None = None,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        x_t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        if x_t.ndim < 2 or x_t.shape[0] == 0:
            raise ValueError(f"x must have shape (N, ...) with N > 0, got {tuple(x_t.shape)}")
        if not torch.isfinite(x_t).all():
            raise ValueError("x contains NaN or infinite values")
        y_t = None
        if y is not None:
            y_t = torch.as_tensor(np.asarray(y)).long()
            if y_t.shape != (x_t.shape[0],):
                raise ValueError(f"y must have shape ({x_t.shape[0]},), got {tuple(y_t.shape)}")
            num_classes = num_classes or int(y_t.max()) + 1
        self.name = name
        self.x, self.y = x_t, y_t
        self.sample_shape = tuple(x_t.shape[1:])
        self.num_classes = num_classes
        self.test_fraction, self.seed = test_fraction, seed
        labels = None if y_t is None else y_t.numpy()
        self._train_idx, self._test_idx = stratified_split(labels, x_t.shape[0], test_fraction, seed)

    def load(self, split: str = "train") -> TensorDataset:
        """Return the ``train``, ``test`` or ``all`` split as a TensorDataset."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split == "all":
            idx = torch.arange(self.x.shape[0])
        else:
            idx = torch.from_numpy(self._train_idx if split == "train" else self._test_idx)
        tensors = (self.x[idx],) if self.y is None else (self.x[idx], self.y[idx])
        return TensorDataset(*tensors)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, n={self.x.shape[0]}, "
            f"sample_shape={self.sample_shape}, num_classes={self.num_classes})"
        )
