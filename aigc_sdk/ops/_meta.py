"""Fake (meta) implementations of the compiled ops, for torch.compile / FakeTensor tracing.

They mirror the output shapes, dtypes, devices and strides of the kernels in csrc/.
"""

from __future__ import annotations

import torch


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def register() -> None:
    """Register the fake implementations (called once after the extension loaded)."""

    @torch.library.register_fake("aigc_sdk::fused_leaky_relu")
    def _lrelu(x, bias, negative_slope, scale, dim, clamp):
        # Dense inputs keep their strides; others become contiguous in their suggested format.
        return torch.empty_like(x)

    @torch.library.register_fake("aigc_sdk::fused_leaky_relu_backward")
    def _lrelu_bwd(grad, x, bias, negative_slope, scale, dim, clamp, bias_grad):
        c = x.shape[dim] if x.dim() > 0 else 1
        gb = x.new_empty((c,) if bias_grad else (0,), dtype=_acc(x.dtype))
        return torch.empty_like(x), gb

    @torch.library.register_fake("aigc_sdk::reparameterize")
    def _reparam(mu, logvar, generator, return_kl):
        z = mu.new_empty(mu.shape)
        kl = mu.new_empty(tuple(mu.shape[:-1]) if return_kl else (0,))
        return z, kl, torch.empty((2,), dtype=torch.int64, device="cpu")

    @torch.library.register_fake("aigc_sdk::reparameterize_backward")
    def _reparam_bwd(grad_z, grad_kl, mu, logvar, rng_state):
        gmu = logvar.new_empty(logvar.shape if grad_kl is not None else (0,))
        return gmu, logvar.new_empty(logvar.shape)

    @torch.library.register_fake("aigc_sdk::_regenerate_eps")
    def _eps(like, rng_state):
        return like.new_empty(like.shape, dtype=torch.float32)
