"""Self-supervised image scorer: a small CNN learns which of four rotations an image shows.

Trained on the (unlabelled) training images only, the network learns the shapes of normal
images well enough to tell their orientation; on an anomaly it is unsure or wrong, so the
score is the cross-entropy of the true rotation summed over the four rotations (after Golan &
El-Yaniv's geometric-transformation detector, reduced to rotations). On Fashion-MNIST this
scores well where a pixel autoencoder does not, and it complements an isolation forest on the
pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROTATIONS = 4


def rotations(x: Tensor) -> list[Tensor]:
    """``x (N, C, H, W)`` rotated by 0, 90, 180 and 270 degrees."""
    return [torch.rot90(x, k, (2, 3)) for k in range(ROTATIONS)]


class RotationNet(nn.Module):
    """Three conv stages (BatchNorm, ReLU, 2x max-pool between them), global average pooling
    and a linear head over the four rotations."""

    def __init__(self, channels: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate((width, 2 * width, 4 * width)):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c_in, ROTATIONS)

    def forward(self, x: Tensor) -> Tensor:
        """Rotation logits ``(N, 4)``."""
        return self.head(self.features(x))

    def loss(self, x: Tensor) -> Tensor:
        """Mean cross-entropy of the rotation over a batch and its three rotated copies."""
        xs = torch.cat(rotations(x))
        target = torch.arange(ROTATIONS).repeat_interleave(len(x))
        return F.cross_entropy(self(xs), target)

    @torch.no_grad()
    def score(self, x: Tensor, batch_size: int = 512) -> Tensor:
        """Per image, the cross-entropy of the true rotation summed over the four (float64)."""
        out = torch.zeros(len(x), dtype=torch.float64)
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size]
            for k, xr in enumerate(rotations(xb)):
                target = torch.full((len(xb),), k)
                out[i : i + len(xb)] += F.cross_entropy(self(xr), target, reduction="none").double()
        return out
