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


def _half_expm1_value(lv: torch.Tensor) -> torch.Tensor:
    """``0.5 * expm1(lv)``, finite wherever the result is.

    expm1 is exact near 0 (``exp(lv) - 1`` cancels); for large lv, where the -0.5 no longer matters,
    ``(0.5 * sd) * sd`` with ``sd = exp(lv / 2)`` stays finite where ``exp(lv)`` overflows (float32:
    ``exp`` from 88.7, the result only from about 89.4).
    """
    sd = torch.exp(0.5 * lv)
    return torch.where(lv > 80, (0.5 * sd) * sd, 0.5 * torch.expm1(lv.clamp_max(80)))


class _HalfExpm1(torch.autograd.Function):
    """``0.5 * expm1(lv)`` with derivative ``0.5 * exp(lv)``, differentiable to any order."""

    @staticmethod
    def forward(ctx, lv: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(lv)
        return _half_expm1_value(lv)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (lv,) = ctx.saved_tensors
        return g * (_HalfExpm1.apply(lv) + 0.5)


class _HalfKLTerm(torch.autograd.Function):
    """``0.5 * (1 + lv - exp(lv)) = 0.5 * lv - 0.5 * expm1(lv)`` with derivative ``-0.5 * expm1(lv)``.

    Autograd of the plain formula forms ``0.5 * exp(lv) - 0.5``: inexact near 0 and inf from lv 88.7
    in float32; this backward is exact and finite wherever the gradient is.
    """

    @staticmethod
    def forward(ctx, lv: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(lv)
        return 0.5 * lv - _half_expm1_value(lv)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (lv,) = ctx.saved_tensors
        return -g * _HalfExpm1.apply(lv)


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
    # -0.5 * sum(1 + lv - m^2 - exp(lv)), halved per element first (exact) so float stays finite.
    kl = (0.5 * m * m - _HalfKLTerm.apply(lv)).sum(-1).to(mu.dtype)
    return z, kl
