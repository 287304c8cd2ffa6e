"""Loads the compiled extension ``aigc_sdk._C`` once and records which backend each device uses."""

from __future__ import annotations

import warnings

import torch

LOADED = False
#: Why the reference is used for all devices ("" when the extension loaded).
REASON = ""
#: Device types with compiled kernels.
DEVICES: frozenset[str] = frozenset()
CPU_CAPABILITY = ""
#: Whether the CPU kernels can use more than one thread (the extension was built with OpenMP).
CPU_PARALLEL = False


def _load() -> None:
    global LOADED, REASON, DEVICES, CPU_CAPABILITY, CPU_PARALLEL
    from aigc_sdk.env import env_flag

    if env_flag("AIGC_SDK_DISABLE_EXT"):
        REASON = "disabled by AIGC_SDK_DISABLE_EXT=1"
        return
    try:
        import aigc_sdk._C  # noqa: F401  (loading the library registers the ops)
        from aigc_sdk.ops import _meta

        _meta.register()
        devices = {"cpu"}
        if torch._C._dispatch_has_kernel_for_dispatch_key("aigc_sdk::fused_leaky_relu", "CUDA"):
            devices.add("cuda")
        DEVICES = frozenset(devices)
        CPU_CAPABILITY = str(torch.ops.aigc_sdk._cpu_capability())
        CPU_PARALLEL = bool(torch.ops.aigc_sdk._cpu_parallel())
        LOADED = True
    except Exception as exc:  # ImportError, OSError (ABI mismatch), RuntimeError from registration
        REASON = f"compiled extension aigc_sdk._C unavailable ({type(exc).__name__}: {exc})"
        warnings.warn(
            f"aigc_sdk.ops: {REASON}; falling back to the slower pure-PyTorch reference. "
            "Rebuild with `pip install --no-build-isolation -e .` (see docs/ops.md).",
            RuntimeWarning,
            stacklevel=3,
        )


_load()
