"""GAN objectives and gradient penalties.

The penalties differentiate the discriminator's output with ``create_graph=True``, so the
optimiser step back-propagates through a gradient: that is the fused op's double backward.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

#: ``ns`` non-saturating (Goodfellow et al.), ``hinge`` (Lim & Ye; SNGAN/BigGAN), ``wgan-gp``
#: (Gulrajani et al.; pair with ``gp_weight``), ``lsgan`` least squares (Mao et al., targets 1/0).
LOSSES = ("ns", "hinge", "wgan-gp", "lsgan")


def check_loss(loss: str) -> str:
    """Validate a loss name (``_`` and ``-`` are interchangeable); return its canonical spelling."""
    name = loss.strip().lower().replace("_", "-") if isinstance(loss, str) else loss
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    return str(name)


def discriminator_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator loss from real and fake logits (mean over the batch)."""
    if kind == "ns":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())
    return fake.mean() - real.mean()  # WGAN critic


def generator_loss(kind: str, fake: Tensor) -> Tensor:
    """Generator loss from the discriminator's logits on generated samples."""
    if kind == "ns":
        return F.softplus(-fake).mean()  # non-saturating: -log sigmoid(D(G(z)))
    if kind == "lsgan":
        return 0.5 * (fake - 1.0).pow(2).mean()
    return -fake.mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al.): mean over the batch of ``||d D(x) / d x||^2`` on real data.

    ``real`` must require grad and ``real_logits`` be computed from it. Multiply by
    ``gamma / 2`` outside.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP: ``E[(||grad critic(x_hat)|| - 1)^2]`` on random interpolates of real and fake."""
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    alpha = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).pow(2).mean()
