"""The "random-conv" feature extractor: a conv net with fixed random (seeded) weights.

Random features are a weak but data-independent embedding: useful when no labelled data
exists for a classifier, and comparable across data sets of the same image shape.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import FeatureExtractor


def _build(in_channels: int, seed: int, width: int) -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
        )
    return net.eval().requires_grad_(False)


class RandomConvExtractor(FeatureExtractor):
    """Three seeded random conv layers + 2x2 average pool: ``feature_dim = 16 * width``.

    Args:
        in_channels: image channels; inferred from ``dataset`` or from the first batch.
        seed: weight seed (part of ``name``).
        width: channels of the first layer.
        dataset: optional data set name used only to read its channel count.
    """

    def __init__(
        self,
        in_channels: int | None = None,
        *,
        seed: int = 0,
        width: int = 32,
        dataset: Any = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if in_channels is None and dataset is not None:
            from aigc_sdk.evaluation import resolve_provider

            shape = resolve_provider(dataset).sample_shape
            if len(shape) != 3:
                raise ValueError(f"random-conv needs image data (C, H, W); {dataset!r} has shape {shape}")
            in_channels = int(shape[0])
        self.seed, self.width, self.device = int(seed), int(width), torch.device(device)
        self.feature_dim = 16 * self.width
        self.name = f"random-conv-s{self.seed}-w{self.width}"
        self._nets: dict[int, nn.Sequential] = {}
        self.in_channels = in_channels

    def _net(self, channels: int) -> nn.Sequential:
        if self.in_channels is not None and channels != self.in_channels:
            raise ValueError(f"x has {channels} channels, this extractor expects {self.in_channels}")
        if channels not in self._nets:
            self._nets[channels] = _build(channels, self.seed, self.width).to(self.device)
        return self._nets[channels]

    @torch.no_grad()
    def __call__(self, x: Tensor, *, batch_size: int = 1024) -> Tensor:
        """Features ``(N, 16 * width)`` of images ``(N, C, H, W)`` in ``[0, 1]``."""
        x = torch.as_tensor(x)
        if x.ndim != 4:
            raise ValueError(f"x must be images (N, C, H, W), got shape {tuple(x.shape)}")
        net = self._net(x.shape[1])
        parts = [
            net(x[i : i + batch_size].to(self.device, torch.float32) * 2 - 1).to(x.device)
            for i in range(0, x.shape[0], batch_size)
        ]
        return torch.cat(parts) if parts else torch.empty(0, self.feature_dim)
