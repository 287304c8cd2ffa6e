"""Fixtures for the synth use-case tests: small mixed-type frames made here, no files."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.plugins.aigc_synth._data import make_frame


@pytest.fixture(scope="session", autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """Small MLPs run fastest on one thread (and shared CI machines suffer from more)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:  # scikit-learn's BLAS too (the detection metric's logistic regression)
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)
    except ImportError:
        limits = None
    yield
    torch.set_num_threads(old)
    if limits is not None:
        limits.restore_original_limits()


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    """A 400-row mixed-type frame."""
    return make_frame()


@pytest.fixture(scope="session")
def fitted_tvae(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    """A quickly fitted conditional tvae (shared: fitting is the slow part)."""
    from aigc_synth.synthesizer import Synthesizer

    return Synthesizer("tvae", epochs=30, batch_size=100, hidden=[64, 64], latent_dim=8, seed=0).fit(
        frame, target="Status"
    )


@pytest.fixture(scope="session")
def fitted_ctgan(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    """A quickly fitted ctgan with mode-specific normalisation (few epochs: tests check
    behaviour, not quality)."""
    from aigc_synth.synthesizer import Synthesizer

    opts = {"epochs": 3, "batch_size": 100, "hidden": [64, 64], "latent_dim": 16, "numeric_encoding": "mode"}
    return Synthesizer("ctgan", seed=0, **opts).fit(frame)
