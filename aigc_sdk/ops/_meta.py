"""Fake (meta) implementations of the compiled ops, for torch.compile / FakeTensor tracing.

They mirror the output shapes, dtypes, devices and strides of the kernels in csrc/, and their argument
checks (same messages and exception types as csrc/ops_common.h). The dispatcher also runs them for real
calls whenever any argument is a meta tensor, so a meta tensor mixed with CPU/CUDA ones must be an
error here: no backend kernel sees that call, and an unchecked fake would hand back uninitialised memory.
"""

from __future__ import annotations

import torch

_FLOAT = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _floating(t: torch.Tensor, name: str) -> None:
    if t.dtype not in _FLOAT:
        raise TypeError(f"{name} must be a float32, float64, float16 or bfloat16 tensor, got {t.dtype}")


def _same_device(a: torch.Tensor, an: str, b: torch.Tensor, bn: str) -> None:
    if a.device != b.device:
        raise ValueError(f"{bn} must be on the same device as {an} ({a.device}), got {b.device}")


def _lrelu_dim(
    x: torch.Tensor, bias: torch.Tensor | None, slope: float, scale: float, dim: int, clamp: float | None
) -> int:
    """check_lrelu_args: returns the normalised dim."""
    _floating(x, "x")
    nd = max(x.dim(), 1)
    if not -nd <= dim < nd:
        raise ValueError(f"dim must be in [{-nd}, {nd - 1}] for x with {x.dim()} dimensions, got {dim}")
    d = dim + nd if dim < 0 else dim
    if not slope >= 0:
        raise ValueError(f"negative_slope must be >= 0, got {slope}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if clamp is not None and not clamp >= 0:
        raise ValueError(f"clamp must be >= 0 or None, got {clamp}")
    if bias is not None:
        _floating(bias, "bias")
        _same_device(x, "x", bias, "bias")
        c = x.shape[d] if x.dim() > 0 else 1
        if bias.dim() != 1 or bias.shape[0] != c:
            raise ValueError(
                f"bias must be a 1-D tensor of length x.shape[{dim}] = {c}, got shape {list(bias.shape)}"
            )
    return d


def _reparam_args(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    _floating(mu, "mu")
    _floating(logvar, "logvar")
    _same_device(mu, "mu", logvar, "logvar")
    if logvar.shape != mu.shape:
        raise ValueError(f"logvar must have the shape of mu {list(mu.shape)}, got {list(logvar.shape)}")
    if logvar.dtype != mu.dtype:
        raise TypeError(f"logvar must have the dtype of mu ({mu.dtype}), got {logvar.dtype}")


def _rng_state(st: torch.Tensor) -> None:
    if st.device.type != "cpu" or st.dtype != torch.int64 or st.numel() != 2:
        raise ValueError(
            "rng_state must be the CPU int64 tensor [seed, offset] returned by reparameterize, "
            f"got a {st.device} {st.dtype} tensor of {st.numel()} elements"
        )


def register() -> None:
    """Register the fake implementations (called once after the extension loaded)."""

    @torch.library.register_fake("aigc_sdk::fused_leaky_relu")
    def _lrelu(x, bias, negative_slope, scale, dim, clamp):
        _lrelu_dim(x, bias, negative_slope, scale, dim, clamp)
        # Dense inputs keep their strides; others become contiguous in their suggested format.
        return torch.empty_like(x)

    @torch.library.register_fake("aigc_sdk::fused_leaky_relu_backward")
    def _lrelu_bwd(grad, x, bias, negative_slope, scale, dim, clamp, bias_grad):
        d = _lrelu_dim(x, bias, negative_slope, scale, dim, clamp)
        _floating(grad, "grad")
        _same_device(x, "x", grad, "grad")
        if grad.shape != x.shape:
            raise ValueError(f"grad must have the shape of x {list(x.shape)}, got {list(grad.shape)}")
        c = x.shape[d] if x.dim() > 0 else 1
        gb = x.new_empty((c,) if bias_grad else (0,), dtype=_acc(x.dtype))
        return torch.empty_like(x), gb

    @torch.library.register_fake("aigc_sdk::reparameterize")
    def _reparam(mu, logvar, generator, return_kl):
        _reparam_args(mu, logvar)
        z = mu.new_empty(mu.shape)
        kl = mu.new_empty(tuple(mu.shape[:-1]) if return_kl else (0,))
        # Zeros rather than uninitialised memory: outside FakeTensorMode this is a real CPU tensor.
        return z, kl, torch.zeros((2,), dtype=torch.int64, device="cpu")

    @torch.library.register_fake("aigc_sdk::reparameterize_backward")
    def _reparam_bwd(grad_z, grad_kl, mu, logvar, rng_state):
        _floating(logvar, "logvar")
        _floating(grad_z, "grad_z")
        _same_device(logvar, "logvar", grad_z, "grad_z")
        if grad_z.shape != logvar.shape:
            raise ValueError(
                f"grad_z must have the shape of logvar {list(logvar.shape)}, got {list(grad_z.shape)}"
            )
        if grad_kl is not None:
            if mu is None:
                raise ValueError("reparameterize_backward needs mu with grad_kl")
            _floating(mu, "mu")
            _floating(grad_kl, "grad_kl")
            _same_device(logvar, "logvar", mu, "mu")
            _same_device(logvar, "logvar", grad_kl, "grad_kl")
            if mu.shape != logvar.shape:
                raise ValueError(
                    f"mu must have the shape of logvar {list(logvar.shape)}, got {list(mu.shape)}"
                )
            want = list(logvar.shape[:-1])
            if list(grad_kl.shape) != want:
                raise ValueError(
                    f"grad_kl must have shape logvar.shape[:-1] = {want}, got {list(grad_kl.shape)}"
                )
        _rng_state(rng_state)
        gmu = logvar.new_empty(logvar.shape if grad_kl is not None else (0,))
        return gmu, logvar.new_empty(logvar.shape)

    @torch.library.register_fake("aigc_sdk::_regenerate_eps")
    def _eps(like, rng_state):
        _rng_state(rng_state)
        return like.new_empty(like.shape, dtype=torch.float32)
