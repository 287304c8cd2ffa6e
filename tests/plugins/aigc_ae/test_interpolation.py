"""The autoencoder's latent interpolation."""

from __future__ import annotations

import pytest
import torch

import aigc_sdk


def test_autoencoder_interpolation_endpoints_match_reconstructions() -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("ae", data_shape=[1, 8, 8], channels=8, hidden=16)
    x = torch.rand(2, 1, 8, 8)
    path = model.interpolate(x[0], x[1], steps=5)
    assert path.shape == (5, 1, 8, 8)
    rec = model.reconstruct(x)
    torch.testing.assert_close(path[0], rec[0])
    torch.testing.assert_close(path[-1], rec[1])
    batch = model.interpolate(x, x.flip(0), steps=3)
    assert batch.shape == (3, 2, 1, 8, 8)
    with pytest.raises(ValueError, match="steps"):
        model.interpolate(x[0], x[1], steps=1)
