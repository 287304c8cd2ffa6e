"""Classic augmentation: seeded random affine transforms of image batches (pure PyTorch)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_affine(
    x: Tensor,
    *,
    generator: torch.Generator | None = None,
    degrees: float = 10.0,
    translate: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    shear: float = 0.0,
) -> Tensor:
    """Apply an independent random rotation / translation / scale / shear to each image.

    Args:
        x: images ``(N, C, H, W)`` in [0, 1].
        generator: source of randomness (same seed, same transforms).
        degrees: rotations are drawn uniformly from ``[-degrees, degrees]``.
        translate: shifts are drawn from ``[-translate, translate]`` of the image size.
        scale: zoom factors are drawn uniformly from this range.
        shear: shear angles (degrees) are drawn from ``[-shear, shear]``.

    Returns:
        Transformed images of the same shape, with zeros filled in from outside the frame.
    """
    if x.ndim != 4:
        raise ValueError(f"random_affine needs images (N, C, H, W), got shape {tuple(x.shape)}")
    n = x.shape[0]
    if n == 0:
        return x.clone()

    def uniform(lo: float, hi: float) -> Tensor:
        # Drawn on the CPU so the same generator gives the same transforms on every device.
        return torch.rand(n, generator=generator, dtype=torch.float32) * (hi - lo) + lo

    angle = uniform(-degrees, degrees) * (math.pi / 180.0)
    sh = uniform(-shear, shear) * (math.pi / 180.0)
    zoom = uniform(scale[0], scale[1])
    # affine_grid works in normalised coordinates ([-1, 1]), so a shift of t * size is 2 * t.
    tx, ty = uniform(-translate, translate) * 2.0, uniform(-translate, translate) * 2.0
    cos, sin = torch.cos(angle), torch.sin(angle)
    # The grid maps output to input coordinates: the inverse zoom makes zoom > 1 enlarge the digit.
    theta = torch.stack(
        [
            torch.stack([cos / zoom, (-sin + torch.tan(sh) * cos) / zoom, tx], dim=1),
            torch.stack([sin / zoom, cos / zoom, ty], dim=1),
        ],
        dim=1,
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
