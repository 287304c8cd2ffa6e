"""The GAN's EMA generator."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

import aigc_sdk
from aigc_sdk.training import Trainer


def test_ema_generator_tracks_generator() -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("gan", data_shape=[4], hidden=8, ema_beta=0.5)
    Trainer(
        model,
        TensorDataset(torch.rand(32, 4, generator=torch.Generator().manual_seed(0))),
        steps=2,
        batch_size=8,
        progress=False,
    ).fit()
    g = dict(model.generator.named_parameters())
    e = dict(model.generator_ema.named_parameters())
    assert any(not torch.equal(g[k], e[k]) for k in g)  # lags behind ...
    assert all(not p.requires_grad for p in e.values())  # ... and is never trained
    assert not model.generator_ema.training
