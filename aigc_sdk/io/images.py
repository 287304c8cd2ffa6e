"""PNG grids of image samples, written atomically."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from aigc_sdk.io.atomic import atomic_write_bytes

if TYPE_CHECKING:
    import torch


def save_image_grid(
    images: torch.Tensor, path: str | os.PathLike[str], *, nrow: int | None = None, padding: int = 2
) -> Path:
    """Tile ``(N, C, H, W)`` images in [0, 1] (C = 1 or 3) into one PNG, written atomically."""
    import io as _io

    import numpy as np
    import torch
    from PIL import Image

    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (N, C, H, W) tensor with C in (1, 3), got {shape}")
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("images is empty")
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + padding) + padding, nrow * (w + padding) + padding)
    imgs = images.detach().float().cpu().clamp(0, 1)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = imgs[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, mode="L" if c == 1 else "RGB")
    buf = _io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
