"""The VAE's importance-weighted log-likelihood bound."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

import aigc_sdk
from aigc_sdk.training import Trainer


def test_vae_iwae_bound_is_tighter_than_elbo_and_reproducible() -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("vae", data_shape=[1, 8, 8], channels=8, hidden=32, latent_dim=4)
    data = TensorDataset(torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    Trainer(model, data, steps=20, batch_size=16, progress=False).fit()
    x = data.tensors[0]
    iwae = model.log_likelihood(x, k=50, generator=torch.Generator().manual_seed(0))
    again = model.log_likelihood(x, k=50, generator=torch.Generator().manual_seed(0), batch_size=7)
    elbo = model.log_likelihood(x, k=1, generator=torch.Generator().manual_seed(0))
    assert iwae.dtype == torch.float64 and iwae.shape == (64,)
    torch.testing.assert_close(iwae, again)
    assert iwae.mean() > elbo.mean()
    with pytest.raises(ValueError, match="k must"):
        model.log_likelihood(x, k=0)
