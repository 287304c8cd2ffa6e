"""Content variations: re-decode an image from randomly perturbed codes in a VAE's latent space."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def _is_vae(model: Any) -> bool:
    return callable(getattr(model, "encode", None)) and callable(getattr(model, "decode_mean", None))


def _condition_for(model: Any, condition: Any, n: int, device: torch.device) -> Tensor | None:
    """Labels for a class-conditional VAE (``n`` copies of one class), None for an unconditional one."""
    num_classes = getattr(model, "num_classes", None)
    if not num_classes:
        if condition is not None:
            raise ValueError("condition was given but this model is not class-conditional")
        return None
    if condition is None:
        raise ValueError("this VAE is class-conditional: pass condition= (the image's class id)")
    label = torch.as_tensor(condition).long().reshape(-1)
    if label.numel() != 1:
        raise ValueError(f"condition must be one class id for the image, got shape {tuple(label.shape)}")
    if not 0 <= int(label) < num_classes:
        raise ValueError(f"condition must lie in [0, {num_classes}), got {int(label)}")
    return label.expand(n).to(device)


@torch.no_grad()
def variations(
    model: Any,
    image: Tensor,
    n: int,
    strength: float = 0.5,
    *,
    generator: torch.Generator | None = None,
    condition: Any = None,
) -> Tensor:
    """Return ``n`` variations of ``image`` decoded from noisy copies of its latent code.

    The image is encoded to its posterior mean ``mu``; each variation decodes
    ``mu + strength * eps`` with ``eps ~ N(0, I)`` (the prior's scale), so ``strength=0``
    gives ``n`` reconstructions and larger values wander further from the original.

    Args:
        model: a VAE with ``encode(x, condition)`` and ``decode_mean(z, condition)`` (e.g.
            ``aigc_sdk.create_model("cvae", ...)``, trained).
        image: ``(C, H, W)`` or ``(1, C, H, W)`` in [0, 1], matching ``model.data_shape``.
        n: number of variations (> 0).
        strength: noise scale in prior units (>= 0).
        generator: makes the noise reproducible.
        condition: the image's class id (required by a class-conditional VAE).

    Returns:
        Images ``(n, C, H, W)`` in [0, 1].
    """
    if not _is_vae(model):
        raise ValueError(
            "variations need a VAE with encode() and decode_mean() (e.g. 'vae' or 'cvae'), "
            f"got {type(model).__name__}"
        )
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not strength >= 0:
        raise ValueError(f"strength must be a non-negative number, got {strength!r}")
    if not isinstance(image, Tensor):
        raise ValueError(f"image must be a tensor, got {type(image).__name__}")
    expected = tuple(getattr(model, "data_shape", image.shape[-3:]))
    x = image.unsqueeze(0) if image.ndim == 3 else image
    if x.ndim != 4 or x.shape[0] != 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"image must have shape {expected} or (1, *{expected}), got {tuple(image.shape)}")
    from aigc_sdk.specs import check_allocation

    check_allocation(f"n={n}", 4.0 * n * math.prod(expected), "use a smaller n", purpose="for the variations")
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError("image must hold finite values in [0, 1]")
    device = next(model.parameters()).device
    x = x.float().to(device)
    was_training = model.training
    model.eval()
    try:
        cond = _condition_for(model, condition, n, device)
        mu, _ = model.encode(x, None if cond is None else cond[:1])
        # Noise drawn on the CPU so a seed gives the same variations on every device.
        eps = torch.randn(n, mu.shape[1], generator=generator).to(device)
        out = model.decode_mean(mu.expand(n, -1) + float(strength) * eps, cond)
    finally:
        model.train(was_training)
    return out.clamp(0, 1)


@torch.no_grad()
def batch_variations(
    model: Any,
    x: Tensor,
    y: Tensor | None,
    strength: float,
    *,
    generator: torch.Generator | None = None,
    batch_size: int = 1024,
) -> Tensor:
    """One variation per row of ``x`` (labels ``y`` for a conditional VAE), in batches."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    parts = []
    try:
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size].to(device)
            yb = None if y is None else y[i : i + batch_size].to(device)
            mu, _ = model.encode(xb, yb)
            eps = torch.randn(mu.shape, generator=generator).to(device)
            parts.append(model.decode_mean(mu + float(strength) * eps, yb).clamp(0, 1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else x[:0].clone()
