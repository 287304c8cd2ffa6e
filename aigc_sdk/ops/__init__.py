"""Compiled ops: fused bias + leaky ReLU and reparameterized Gaussian sampling.

The kernels live in the ahead-of-time built extension ``aigc_sdk._C`` (CPU, and CUDA when built with
nvcc); devices without kernels, a missing extension or ``AIGC_SDK_DISABLE_EXT=1`` use the pure-PyTorch
:mod:`aigc_sdk.ops.reference`. Importing this module never compiles anything. See docs/ops.md.
"""

from __future__ import annotations

from aigc_sdk.ops.functional import (
    FusedLeakyReLU,
    backend,
    empty_cache,
    fused_leaky_relu,
    reparameterize,
)

__all__ = ["FusedLeakyReLU", "backend", "empty_cache", "fused_leaky_relu", "reparameterize"]
