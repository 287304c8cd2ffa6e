"""Fixtures shared by the first-party plugins' tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest single-threaded (and a shared 2-core box oversubscribes badly)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
