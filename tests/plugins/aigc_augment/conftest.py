"""Fixtures for the augment use-case tests: a small labelled/unlabelled split of the 8x8 digits."""

from __future__ import annotations

from typing import Any

import pytest

#: Tiny settings: the tests check behaviour, not quality.
FAST: dict[str, Any] = {"steps": 20, "teacher_steps": 10, "batch_size": 32}


@pytest.fixture(scope="session", autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """Small networks run fastest on one thread, and shared CI machines suffer from more."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def digits() -> tuple[Any, Any, Any]:
    """``(labelled (x, y), unlabelled x, test (x, y))`` from the 8x8 digits data set."""
    import aigc_sdk

    provider = aigc_sdk.load_dataset("digits")
    x, y = provider.load("train").tensors
    xt, yt = provider.load("test").tensors
    return (x[:100], y[:100]), x[100:300], (xt[:200], yt[:200])


@pytest.fixture(scope="session")
def fitted(digits):  # type: ignore[no-untyped-def]
    """One fitted augmenter shared by the read-only tests."""
    from aigc_augment.augmenter import Augmenter

    labelled, unlabelled, _ = digits
    return Augmenter(seed=0, **FAST).fit(labelled, unlabelled=unlabelled)
