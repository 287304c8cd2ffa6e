"""Pure-PyTorch reference implementations of the compiled ops.

Used when the extension is unavailable or disabled (``AIGC_SDK_DISABLE_EXT=1``), for devices without
compiled kernels, and by the tests as the ground truth. Half types are computed in float32, like the
kernels; the bias is used in the compute dtype and the output dtype is always ``x.dtype``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_HALF = (torch.float16, torch.bfloat16)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in _HALF else dtype


def fused_leaky_relu(
    x: torch.Tensor,
    bias: torch.Tensor | None = None,
    negative_slope: float = 0.2,
    scale: float = math.sqrt(2),
    dim: int = 1,
    clamp: float | None = None,
) -> torch.Tensor:
    """``leaky_relu(x + bias (broadcast along dim), negative_slope) * scale``, clamped to ±clamp."""
    cd = _compute_dtype(x.dtype)
    t = x.to(cd)
    if bias is not None:
        shape = [1] * x.dim()
        if x.dim() > 0:
            shape[dim] = -1
        t = t + bias.to(cd).view(shape)
    y = F.leaky_relu(t, negative_slope) * scale
    if clamp is not None:
        y = y.clamp(-clamp, clamp)
    return y.to(x.dtype)


def reparameterize(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    return_kl: bool = False,
    eps: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``z = mu + eps * exp(0.5 * logvar)``; with ``return_kl`` also the KL to N(0, I) over the last dim.

    ``eps`` defaults to ``torch.randn`` from ``generator``; pass it to reproduce a kernel call exactly.
    """
    cd = _compute_dtype(mu.dtype)
    m = mu.to(cd)
    lv = logvar.to(cd)
    if eps is None:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=cd)
    z = (m + eps.to(cd) * torch.exp(0.5 * lv)).to(mu.dtype)
    if not return_kl:
        return z
    kl = (-0.5 * (1 + lv - m * m - torch.exp(lv)).sum(-1)).to(mu.dtype)
    return z, kl
