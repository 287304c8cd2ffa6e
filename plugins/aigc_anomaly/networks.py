"""Small MLP autoencoder and VAE for vectors, built on the SDK's Encoder/Decoder interfaces.

The VAE samples with :func:`aigc_sdk.ops.reparameterize` (fused kernel when compiled, pure
PyTorch otherwise) and scores with the decoder mean at ``mu``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import Decoder, Encoder
from aigc_sdk.nn import mlp


class TabularEncoder(Encoder):
    """``D -> hidden... -> latent_dim`` (or ``2 * latent_dim`` split into ``(mu, logvar)``)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...], latent_dim: int, variational: bool) -> None:
        super().__init__()
        self.latent_dim, self.variational = latent_dim, variational
        self.net = mlp([in_dim, *hidden, latent_dim * (2 if variational else 1)])

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Return codes, or ``(mu, logvar)`` when variational."""
        h = self.net(x)
        if not self.variational:
            return h
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training


class TabularDecoder(Decoder):
    """``latent_dim -> hidden... -> D`` (Gaussian mean; unit variance)."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = mlp([latent_dim, *hidden, out_dim])

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Decode ``z`` into the reconstruction mean."""
        return self.net(z)


class TabularAutoEncoder(nn.Module):
    """Encoder + decoder with a training loss and a deterministic reconstruction.

    ``kind="ae"``: squared error. ``kind="vae"``: squared error + ``beta`` * KL(q(z|x) || N(0, I)).
    """

    def __init__(
        self, in_dim: int, hidden: tuple[int, ...], latent_dim: int, kind: str = "ae", beta: float = 0.1
    ) -> None:
        super().__init__()
        if kind not in ("ae", "vae"):
            raise ValueError(f"kind must be 'ae' or 'vae', got {kind!r}")
        self.kind, self.beta = kind, beta
        self.encoder = TabularEncoder(in_dim, hidden, latent_dim, variational=kind == "vae")
        self.decoder = TabularDecoder(latent_dim, tuple(reversed(hidden)), in_dim)

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mean per-sample training loss of a batch."""
        if self.kind == "ae":
            code = self.encoder(x)
            assert isinstance(code, Tensor)
            return (self.decoder(code) - x).pow(2).sum(1).mean()
        from aigc_sdk.ops import reparameterize

        mu, logvar = self.encoder(x)
        z, kl = reparameterize(mu, logvar, generator=generator, return_kl=True)
        return (self.decoder(z) - x).pow(2).sum(1).mean() + self.beta * kl.mean()

    @torch.no_grad()
    def embed(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(code, residual)``: the code (``mu`` for a VAE) and ``x_hat - x``."""
        code = self.encoder(x)
        if isinstance(code, tuple):
            code = code[0]
        return code, self.decoder(code) - x
