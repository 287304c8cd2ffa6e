"""Fixtures for the metrics tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# Until the editable install is refreshed, the new plugin package may not be importable.
if importlib.util.find_spec("aigc_metrics") is None:  # pragma: no cover - environment dependent
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))
    import aigc_sdk.registry

    aigc_sdk.registry.reset_default_registry()


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A private AIGC_SDK_CACHE for tests that train classifiers."""
    monkeypatch.setenv("AIGC_SDK_CACHE", str(tmp_path / "cache"))
    from aigc_metrics import classifier

    monkeypatch.setattr(classifier, "_memo", {})
    return tmp_path / "cache"
