"""Differentiable augmentation for GAN training on small data sets (DiffAugment, Zhao et al. 2020).

The same random transforms are applied to every image the discriminator sees, real and generated
alike, and they are differentiable, so the generator's gradient passes through them. The
discriminator then cannot memorise the few thousand training images, and the generator is not
pushed to reproduce the augmentations (they are applied to its output too).

Policies (any comma-separated subset, applied in this order):

* ``color``: random brightness, saturation (RGB only) and contrast per image;
* ``translation``: shift by up to ``1/8`` of the side, zero padding;
* ``cutout``: zero a random square of half the side.

Every random draw comes from the global torch RNG, which the Trainer checkpoints, so resumed
runs stay exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str | None) -> tuple[str, ...]:
    """Validate a comma-separated policy (``""``/``None``: no augmentation); return it in apply order."""
    if policy is None:
        return ()
    if not isinstance(policy, str):
        raise ValueError(f"augment must be a comma-separated string of {POLICIES} or '', got {policy!r}")
    names = [p.strip().lower() for p in policy.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"augment: unknown policy {unknown[0]!r}; accepted: {', '.join(POLICIES)}")
    return tuple(p for p in POLICIES if p in names)


def _color(x: Tensor) -> Tensor:
    n = x.shape[0]
    shape = (n, 1, 1, 1)
    x = x + (torch.rand(shape, dtype=x.dtype, device=x.device) - 0.5)  # brightness
    if x.shape[1] == 3:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (torch.rand(shape, dtype=x.dtype, device=x.device) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(shape, dtype=x.dtype, device=x.device) + 0.5) + mean  # contrast


def _translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    # Gather from a zero-padded copy: output pixel (i, j) reads input (i - dy, j - dx).
    ys = torch.arange(h, device=x.device).view(1, h, 1) - dy + sh
    xs = torch.arange(w, device=x.device).view(1, 1, w) - dx + sw
    padded = F.pad(x, (sw, sw, sh, sh))
    idx = (ys * (w + 2 * sw) + xs).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def _cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy + ch // 2) >= 0) & ((ys - cy + ch // 2) < ch)
    inside = inside & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...]) -> Tensor:
    """Apply the parsed ``policy`` to a batch of images ``(N, C, H, W)``; vectors pass unchanged."""
    if not policy or x.ndim != 4:
        return x
    for name in policy:
        x = _OPS[name](x)
    return x


__all__ = ["POLICIES", "diff_augment", "parse_policy"]
