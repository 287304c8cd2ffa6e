"""The "raw" feature extractor: samples flattened to vectors (pixels or table columns)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from aigc_sdk.interfaces import FeatureExtractor


class RawExtractor(FeatureExtractor):
    """Flattens each sample to a float vector; ``feature_dim`` is fixed by the first call
    (or by ``sample_shape``/``dataset`` when given)."""

    def __init__(
        self, sample_shape: tuple[int, ...] | None = None, *, dataset: Any = None, **_: object
    ) -> None:
        if sample_shape is None and dataset is not None:
            from aigc_sdk.evaluation import resolve_provider

            sample_shape = tuple(resolve_provider(dataset).sample_shape)
        self.sample_shape = None if sample_shape is None else tuple(sample_shape)
        self.feature_dim = 0
        if self.sample_shape is not None:
            self.feature_dim = 1
            for s in self.sample_shape:
                self.feature_dim *= int(s)
        self.name = "raw"

    def __call__(self, x: Tensor) -> Tensor:
        """Return ``x`` reshaped to ``(N, prod(sample_shape))`` as float32."""
        x = torch.as_tensor(x)
        if x.ndim < 2:
            raise ValueError(f"x must have shape (N, ...), got {tuple(x.shape)}")
        if self.sample_shape is not None and tuple(x.shape[1:]) != self.sample_shape:
            raise ValueError(f"x must have sample shape {self.sample_shape}, got {tuple(x.shape[1:])}")
        flat = x.reshape(x.shape[0], -1)
        if self.feature_dim and flat.shape[1] != self.feature_dim:
            raise ValueError(f"x flattens to {flat.shape[1]} features, expected {self.feature_dim}")
        self.feature_dim = flat.shape[1]
        return flat.float() if not flat.is_floating_point() or flat.dtype == torch.float16 else flat
