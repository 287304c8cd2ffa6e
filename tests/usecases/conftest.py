"""Make the use-case plugins importable before their entry points are installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

# Until pyproject lists aigc_anomaly / aigc_recommend, an editable install does not expose them.
if importlib.util.find_spec("aigc_anomaly") is None and str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest single-threaded (and a shared 2-core box oversubscribes badly)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
