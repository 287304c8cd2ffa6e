"""Fixtures for the metrics tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """A private AIGC_SDK_CACHE for tests that train classifiers."""
    monkeypatch.setenv("AIGC_SDK_CACHE", str(tmp_path / "cache"))
    from aigc_metrics import classifier

    monkeypatch.setattr(classifier, "_memo", {})
    return tmp_path / "cache"
