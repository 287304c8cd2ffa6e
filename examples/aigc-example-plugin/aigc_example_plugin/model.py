"""A linear-Gaussian generative model: x = W z + b + sigma * noise, trained by maximum
likelihood of its reconstruction (a minimal but real GenerativeModel)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import GenerativeModel


class LinearGaussian(GenerativeModel):
    """Linear decoder with a learned isotropic noise level; encoder is its pseudo-inverse."""

    family = "linear"

    def __init__(self, data_dim: int = 16, latent_dim: int = 4, lr: float = 1e-2) -> None:
        super().__init__()
        if data_dim <= 0 or latent_dim <= 0:
            raise ValueError(f"data_dim and latent_dim must be positive, got {data_dim}, {latent_dim}")
        self.data_dim, self.latent_dim, self.lr = data_dim, latent_dim, lr
        self.decoder = nn.Linear(latent_dim, data_dim)
        self.encoder = nn.Linear(data_dim, latent_dim)
        self.log_sigma = nn.Parameter(torch.zeros(()))

    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model."""
        return {"data_dim": self.data_dim, "latent_dim": self.latent_dim, "lr": self.lr}

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None
    ) -> Tensor:
        """Draw ``n`` samples; the same generator seed gives the same samples."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        z = torch.randn(n, self.latent_dim, generator=generator)
        noise = torch.randn(n, self.data_dim, generator=generator)
        return self.decoder(z) + self.log_sigma.exp() * noise

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam optimizer over all parameters."""
        return {"main": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def training_step(
        self, batch: tuple[Tensor, ...], optimizers: Mapping[str, torch.optim.Optimizer], step: int
    ) -> dict[str, float]:
        """Gaussian negative log-likelihood of the reconstruction."""
        x = batch[0].flatten(1)
        recon = self.decoder(self.encoder(x))
        var = (2 * self.log_sigma).exp()
        nll = 0.5 * (((x - recon) ** 2) / var + 2 * self.log_sigma + math.log(2 * math.pi)).sum(1).mean()
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        return {"nll": nll.item()}
