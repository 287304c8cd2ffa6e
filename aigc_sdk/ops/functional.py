"""Public API of :mod:`aigc_sdk.ops`: argument checks, then the compiled op or the reference."""

from __future__ import annotations

import math

import torch
from torch import nn

from aigc_sdk.ops import _ext, reference

_FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_Tensor = torch.Tensor
# The compiled CPU op's overload, looked up once (torch.ops attribute lookups cost microseconds).
_REPARAM = torch.ops.aigc_sdk.reparameterize.default if _ext.LOADED and "cpu" in _ext.DEVICES else None


def _use_ext(device: torch.device) -> bool:
    return _ext.LOADED and device.type in _ext.DEVICES


def backend() -> dict[str, str]:
    """Which implementation each device type uses: ``"cpu"``, ``"cuda"`` or ``"reference"``.

    Keys: ``"cpu"`` and ``"cuda"`` (the backend names), ``"cpu_capability"`` (the SIMD variant of the CPU
    kernels chosen at run time, e.g. ``"AVX512"``) and ``"cpu_parallel"`` (``"yes"``, or ``"no"`` with why,
    when the CPU kernels would run on one thread) when the extension loaded, and ``"reason"`` saying why
    the reference is used whenever it is.
    """
    info: dict[str, str] = {}
    reasons = []
    for dev in ("cpu", "cuda"):
        if _use_ext(torch.device(dev)):
            info[dev] = dev
        else:
            info[dev] = "reference"
            why = _ext.REASON or "extension built without CUDA kernels (no nvcc or AIGC_SDK_BUILD_CUDA=0)"
            reasons.append(f"{dev}: {why}")
    if _ext.LOADED:
        info["cpu_capability"] = _ext.CPU_CAPABILITY
        info["cpu_parallel"] = "yes" if _ext.CPU_PARALLEL else "no (extension built without OpenMP)"
    if reasons:
        info["reason"] = "; ".join(reasons)
    return info


def empty_cache() -> None:
    """Free the large CPU output buffers the compiled ops keep for reuse.

    Outputs of 1 MiB and more come from a bounded pool of buffers that earlier outputs released
    (``AIGC_SDK_POOL_MB``, default 256; ``0`` disables it), which spares steady-state steps the page
    faults of fresh memory. Like ``torch.cuda.empty_cache()``, this returns that memory to the system;
    tensors still alive are unaffected. A no-op without the compiled extension.
    """
    if _ext.LOADED:
        torch.ops.aigc_sdk._empty_cache()


def _pool_stats() -> dict[str, int]:
    """The output pool's ``cached_bytes``, ``limit_bytes``, ``hits`` and ``misses`` (diagnostics)."""
    if not _ext.LOADED:
        return {"cached_bytes": 0, "limit_bytes": 0, "hits": 0, "misses": 0}
    cached, limit, hits, misses = torch.ops.aigc_sdk._pool_stats()
    return {"cached_bytes": cached, "limit_bytes": limit, "hits": hits, "misses": misses}


def _check_tensor(t: object, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32, float64, float16 or bfloat16 tensor, got {t.dtype}")
    return t


def _check_lrelu(
    x: torch.Tensor,
    bias: torch.Tensor | None,
    negative_slope: float,
    scale: float,
    dim: int,
    clamp: float | None,
) -> None:
    _check_tensor(x, "x")
    nd = max(x.dim(), 1)
    if not isinstance(dim, int) or not -nd <= dim < nd:
        raise ValueError(
            f"dim must be an int in [{-nd}, {nd - 1}] for x with {x.dim()} dimensions, got {dim}"
        )
    if bias is not None:
        _check_tensor(bias, "bias")
        if bias.device != x.device:
            raise ValueError(f"bias must be on the same device as x ({x.device}), got {bias.device}")
        c = x.shape[dim] if x.dim() > 0 else 1
        if bias.dim() != 1 or bias.shape[0] != c:
            raise ValueError(
                f"bias must be a 1-D tensor of length x.shape[{dim}] = {c}, got shape {tuple(bias.shape)}"
            )
    if not negative_slope >= 0:
        raise ValueError(f"negative_slope must be >= 0, got {negative_slope}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if clamp is not None and not clamp >= 0:
        raise ValueError(f"clamp must be >= 0 or None, got {clamp}")


def fused_leaky_relu(
    x: torch.Tensor,
    bias: torch.Tensor | None = None,
    negative_slope: float = 0.2,
    scale: float = math.sqrt(2),
    dim: int = 1,
    clamp: float | None = None,
) -> torch.Tensor:
    """Fused ``leaky_relu(x + bias, negative_slope) * scale``, then clamped to ``[-clamp, clamp]``.

    Args:
        x: input of any rank, dtype float32/float64/float16/bfloat16 (half types computed in float32);
            contiguous, channels_last or strided. The output keeps x's dtype and memory format.
        bias: optional 1-D tensor of length ``x.shape[dim]``, broadcast along ``dim``.
        negative_slope: slope for negative inputs (>= 0).
        scale: gain applied after the activation (> 0); ``sqrt(2)`` preserves the variance.
        dim: the channel dimension of ``x`` that ``bias`` runs along (negative values count from the end).
        clamp: optional bound (>= 0) on the output magnitude; clamped outputs get zero gradient.

    Differentiable to any order (the backward is itself a fused op), so it works in R1 penalties.
    """
    _check_lrelu(x, bias, negative_slope, scale, dim, clamp)
    if _use_ext(x.device):
        return torch.ops.aigc_sdk.fused_leaky_relu(
            x, bias, float(negative_slope), float(scale), dim, None if clamp is None else float(clamp)
        )
    return reference.fused_leaky_relu(x, bias, negative_slope, scale, dim, clamp)


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU + gain as one module with a learnable per-channel bias.

    Args:
        channels: size of ``x.shape[dim]``.
        negative_slope, scale, dim: see :func:`fused_leaky_relu`.
        bias_init: initial value of the bias.
    """

    def __init__(
        self,
        channels: int,
        negative_slope: float = 0.2,
        scale: float = math.sqrt(2),
        dim: int = 1,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.full((channels,), float(bias_init)))
        self.negative_slope = negative_slope
        self.scale = scale
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the fused activation with this module's bias."""
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale, self.dim)

    def extra_repr(self) -> str:
        """Shown by ``repr(module)``."""
        c = self.bias.shape[0]
        return f"{c}, negative_slope={self.negative_slope}, scale={self.scale:.4g}, dim={self.dim}"


def _check_reparam(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None) -> None:
    _check_tensor(mu, "mu")
    _check_tensor(logvar, "logvar")
    if logvar.device != mu.device:
        raise ValueError(f"logvar must be on the same device as mu ({mu.device}), got {logvar.device}")
    if logvar.shape != mu.shape:
        raise ValueError(f"logvar must have the shape of mu {tuple(mu.shape)}, got {tuple(logvar.shape)}")
    if logvar.dtype != mu.dtype:
        raise TypeError(f"logvar must have the dtype of mu ({mu.dtype}), got {logvar.dtype}")
    if generator is not None and generator.device.type != mu.device.type:
        raise ValueError(f"generator must be on mu's device type ({mu.device.type}), got {generator.device}")


def reparameterize(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    return_kl: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Sample ``z = mu + eps * exp(0.5 * logvar)``, ``eps ~ N(0, 1)``, in one fused pass.

    eps comes from a Philox4x32-10 stream keyed from ``generator`` (default: torch's default generator
    of mu's device), so ``torch.manual_seed`` reproduces results independently of the thread count, and
    every call advances the generator. eps is not stored: backward regenerates it.

    Args:
        mu, logvar: same shape, device and floating dtype.
        generator: optional ``torch.Generator`` on mu's device.
        return_kl: also return ``kl = -0.5 * sum(1 + logvar - mu**2 - exp(logvar))`` over the last dim.

    Returns:
        ``z`` (contiguous, dtype of mu), or ``(z, kl)`` with ``kl.shape == mu.shape[:-1]``.
    """
    # Fast path for small latents, where per-call overhead matters: the C++ op repeats the dtype and
    # shape checks with the same messages and exception types.
    if (
        _REPARAM is not None
        and generator is None
        and type(mu) is _Tensor
        and type(logvar) is _Tensor
        and mu.is_cpu
        and logvar.is_cpu
    ):
        z, kl, _ = _REPARAM(mu, logvar, None, return_kl)
        return (z, kl) if return_kl else z
    _check_reparam(mu, logvar, generator)
    if _use_ext(mu.device):
        z, kl, _ = torch.ops.aigc_sdk.reparameterize(mu, logvar, generator, return_kl)
        return (z, kl) if return_kl else z
    return reference.reparameterize(mu, logvar, generator=generator, return_kl=return_kl)


def _reparameterize_with_state(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None, return_kl: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like :func:`reparameterize` (extension only) but also returns the ``[seed, offset]`` rng state."""
    _check_reparam(mu, logvar, generator)
    if not _use_ext(mu.device):
        raise RuntimeError(f"no compiled kernels for {mu.device.type}: {backend().get('reason', '')}")
    return torch.ops.aigc_sdk.reparameterize(mu, logvar, generator, return_kl)


def _regenerate_eps(like: torch.Tensor, rng_state: torch.Tensor) -> torch.Tensor:
    """The float32 eps (shape and device of ``like``) that the call which returned ``rng_state`` used."""
    return torch.ops.aigc_sdk._regenerate_eps(like, rng_state)
