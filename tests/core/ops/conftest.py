"""Shared fixtures of the compiled-ops tests."""

from __future__ import annotations

import pytest
import torch

from aigc_sdk.ops import _ext

needs_ext = pytest.mark.skipif(not _ext.LOADED, reason=f"compiled extension not in use: {_ext.REASON}")

# CPU always; CUDA only with a GPU (and then only meaningful when the CUDA kernels are built).
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """Each test device in turn."""
    return request.param
