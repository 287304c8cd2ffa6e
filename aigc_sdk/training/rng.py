"""Seeding, deterministic mode, and capture/restore of every RNG state (torch, CUDA, NumPy,
Python) in a pickle-free form: tensors for safetensors, the rest JSON."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool) -> None:
    """Ask torch for deterministic kernels (and cuBLAS for a fixed workspace) when ``enabled``."""
    if enabled:
        # cuBLAS reads this when its handle is created, so set it before any CUDA matmul.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and torch.backends.cudnn.benchmark


def capture_rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return ``(tensors, json_state)`` describing every global RNG."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = st
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy.keys"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).view(np.int32).copy())
    py_version, py_state, py_gauss = random.getstate()
    meta = {
        "numpy": {
            "kind": kind,
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": py_version, "state": list(py_state), "gauss_next": py_gauss},
    }
    return tensors, meta


def restore_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        states = [tensors[k].to(torch.uint8) for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
    npm = meta["numpy"]
    keys = tensors["rng.numpy.keys"].numpy().view(np.uint32)
    np.random.set_state((npm["kind"], keys, npm["pos"], npm["has_gauss"], npm["cached_gaussian"]))
    py = meta["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
