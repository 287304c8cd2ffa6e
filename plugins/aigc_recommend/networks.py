"""Mult-VAE and Mult-DAE networks (Liang et al. 2018) on the SDK's Encoder/Decoder interfaces, and
the scorers that combine them (ensembles, and blends with the linear item autoencoder).

Input: a user's binary item vector, L2-normalised, with dropout (the "denoising" corruption).
Output: item logits; the multinomial log-likelihood is ``sum(x * log_softmax(logits))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_recommend.linear import ItemLinearAE
from aigc_sdk.interfaces import Decoder, Encoder
from aigc_sdk.nn import mlp


def _tanh_mlp(sizes: list[int]) -> nn.Sequential:
    layers = mlp(sizes, nn.Tanh)
    for m in layers:  # Xavier weights and small biases, as in the paper's code
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.normal_(m.bias, std=0.001)
    return layers


class ItemEncoder(Encoder):
    """``items -> hidden -> latent`` (``(mu, logvar)`` when variational)."""

    def __init__(self, n_items: int, hidden: int, latent_dim: int, variational: bool) -> None:
        super().__init__()
        self.latent_dim, self.variational = latent_dim, variational
        self.net = _tanh_mlp([n_items, hidden, latent_dim * (2 if variational else 1)])

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Encode L2-normalised (and possibly dropped-out) item vectors."""
        h = self.net(x)
        if not self.variational:
            return torch.tanh(h)  # Mult-DAE: the code layer is tanh too
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar


class ItemDecoder(Decoder):
    """``latent -> hidden -> item logits``."""

    def __init__(self, n_items: int, hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = _tanh_mlp([latent_dim, hidden, n_items])

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return unnormalised item logits."""
        return self.net(z)


class MultNet(nn.Module):
    """Mult-VAE (``kind="multvae"``) or Mult-DAE (``"multdae"``)."""

    def __init__(
        self,
        n_items: int,
        hidden: int = 600,
        latent_dim: int = 200,
        kind: str = "multvae",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if kind not in ("multvae", "multdae"):
            raise ValueError(f"kind must be 'multvae' or 'multdae', got {kind!r}")
        self.kind, self.dropout = kind, dropout
        self.encoder = ItemEncoder(n_items, hidden, latent_dim, variational=kind == "multvae")
        self.decoder = ItemDecoder(n_items, hidden, latent_dim)

    def _input(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        x = F.normalize(x, dim=1)
        if self.training and self.dropout > 0:
            keep = torch.rand(x.shape, generator=generator) >= self.dropout
            x = x * keep / (1.0 - self.dropout)
        return x

    def loss(self, x: Tensor, beta: float, generator: torch.Generator | None = None) -> Tensor:
        """Negative multinomial log-likelihood (+ beta * KL for the VAE), mean over users."""
        h = self._input(x, generator)
        if self.kind == "multdae":
            code = self.encoder(h)
            assert isinstance(code, Tensor)
            logits = self.decoder(code)
            kl = torch.zeros((), dtype=x.dtype)
        else:
            from aigc_sdk.ops import reparameterize

            mu, logvar = self.encoder(h)
            z, kl_per = reparameterize(mu, logvar, generator=generator, return_kl=True)
            logits, kl = self.decoder(z), kl_per.mean()
        nll = -(F.log_softmax(logits, dim=1) * x).sum(1).mean()
        return nll + beta * kl

    @torch.no_grad()
    def scores(self, x: Tensor) -> Tensor:
        """Item logits for fold-in histories ``x`` (deterministic: no dropout, z = mu)."""
        code = self.encoder(F.normalize(x, dim=1))
        if isinstance(code, tuple):
            code = code[0]
        return self.decoder(code)


class MultEnsemble(nn.Module):
    """Several independently seeded :class:`MultNet` members; scores are the log of their mean
    multinomial probabilities (an average of the predicted item distributions)."""

    def __init__(self, members: list[MultNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @torch.no_grad()
    def scores(self, x: Tensor) -> Tensor:
        """Log mean member probability per item (deterministic, like :meth:`MultNet.scores`)."""
        probs = torch.stack([F.softmax(m.scores(x), dim=1) for m in self.members]).mean(0)
        return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()


def _standardise(s: Tensor) -> Tensor:
    """Per-user z-scores of item scores (a constant row becomes zeros)."""
    std, mean = torch.std_mean(s, dim=1, keepdim=True)
    return (s - mean) / std.clamp_min(torch.finfo(s.dtype).tiny)


class BlendedScorer(nn.Module):
    """``(1 - weight) * z(neural) + weight * z(linear)``: per-user standardised scores of a Mult-VAE /
    Mult-DAE (or ensemble) and of an :class:`~aigc_recommend.linear.ItemLinearAE`, mixed.

    The two models err differently (a low-rank non-linear code vs. item-to-item co-occurrence), so the
    mix ranks better than either; standardising first makes ``weight`` independent of score scales.
    """

    def __init__(self, neural: MultNet | MultEnsemble, linear: ItemLinearAE, weight: float) -> None:
        super().__init__()
        if not 0.0 < weight < 1.0:
            raise ValueError(f"weight must be in (0, 1), got {weight}")
        self.neural, self.linear, self.weight = neural, linear, float(weight)

    @torch.no_grad()
    def scores(self, x: Tensor) -> Tensor:
        """Mixed standardised scores (deterministic, like :meth:`MultNet.scores`)."""
        neural = _standardise(self.neural.scores(x))
        linear = _standardise(self.linear.scores(x)).to(neural.dtype)
        return (1.0 - self.weight) * neural + self.weight * linear
