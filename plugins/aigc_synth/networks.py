"""The neural networks behind the synthesizers and the block-wise losses they share.

Both models emit one raw vector per row laid out as the transformer's
:class:`~aigc_synth.transformer.Block` list: real values (``gauss``), bounded values
(``tanh``) and one-hot groups (``softmax``). The helpers here turn raw outputs into
losses (VAE), differentiable samples (GAN) or final samples (both).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_sdk.nn import mlp
from aigc_synth.transformer import Block


def _reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """``mu + eps * sigma`` through the SDK's fused op when present (same maths otherwise)."""
    try:
        from aigc_sdk.ops import reparameterize
    except ImportError:
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    z = reparameterize(mu, logvar)
    assert isinstance(z, Tensor)  # return_kl=False gives a single tensor
    return z


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    return mlp(sizes, nn.ReLU, last_activation=True)


class BlockLayout:
    """Index tensors for the continuous and one-hot parts of an encoded row."""

    def __init__(self, blocks: Sequence[Block]) -> None:
        self.blocks = list(blocks)
        self.cont = torch.tensor([b.start for b in blocks if b.kind != "softmax"], dtype=torch.long)
        self.tanh_mask = torch.tensor([b.kind == "tanh" for b in blocks if b.kind != "softmax"])
        self.softmax = [(b.start, b.dim) for b in blocks if b.kind == "softmax"]
        # every one-hot column and the group it belongs to, for a loop-free cross-entropy
        self.soft_cols = torch.tensor(
            [b.start + j for b in blocks if b.kind == "softmax" for j in range(b.dim)]
        )
        self.soft_group = torch.tensor(
            [g for g, (_, dim) in enumerate(self.softmax) for _ in range(dim)], dtype=torch.long
        )

    def cross_entropy(self, out: Tensor, x: Tensor) -> Tensor:
        """Sum over one-hot groups of the cross-entropy of ``out``'s logits, averaged over rows."""
        if not self.softmax:
            return out.new_zeros(())
        logits = out[:, self.soft_cols]
        n, groups = len(out), len(self.softmax)
        index = self.soft_group.expand(n, -1)
        top = torch.full((n, groups), -torch.inf, dtype=out.dtype).scatter_reduce(
            1, index, logits.detach(), reduce="amax"
        )
        sums = torch.zeros(n, groups, dtype=out.dtype).index_add(
            1, self.soft_group, (logits - top[:, self.soft_group]).exp()
        )
        lse = sums.log() + top
        return (lse.sum(1) - (x[:, self.soft_cols] * logits).sum(1)).mean()


class TabularVAE(nn.Module):
    """A conditional VAE over encoded rows (TVAE-style, optionally keyed on a target one-hot).

    The decoder returns per-column means and learns one noise scale per continuous column,
    so a sample is ``mean + sigma * eps`` for real values and a categorical draw for groups.
    """

    def __init__(self, data_dim: int, cond_dim: int, hidden: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        self.data_dim, self.cond_dim, self.latent_dim = data_dim, cond_dim, latent_dim
        self.encoder = _mlp([data_dim + cond_dim, *hidden])
        self.mu = nn.Linear(hidden[-1], latent_dim)
        self.logvar = nn.Linear(hidden[-1], latent_dim)
        self.decoder = nn.Sequential(
            _mlp([latent_dim + cond_dim, *hidden[::-1]]), nn.Linear(hidden[0], data_dim)
        )
        self.log_sigma = nn.Parameter(torch.full((data_dim,), -1.0))

    def encode(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance of ``x`` given condition ``c``."""
        h = self.encoder(torch.cat([x, c], dim=1))
        return self.mu(h), self.logvar(h).clamp(-10, 10)

    def decode(self, z: Tensor, c: Tensor) -> Tensor:
        """Raw decoder output for latents ``z`` and condition ``c``."""
        return self.decoder(torch.cat([z, c], dim=1))

    def loss(
        self,
        x: Tensor,
        c: Tensor,
        layout: BlockLayout,
        beta: float,
        *,
        eps: Tensor | None = None,
        log_sigma: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Negative ELBO per row (mean) and its reconstruction and KL parts.

        For per-row gradients (private training): ``eps`` (``(rows, latent_dim)``) supplies the
        latent noise, so ``z`` is a plain function of the inputs, and ``log_sigma`` (``(rows,
        data_dim)``, one copy of the noise scales per row) stands in for the shared parameter.
        """
        mu, logvar = self.encode(x, c)
        z = _reparameterize(mu, logvar) if eps is None else mu + eps * torch.exp(0.5 * logvar)
        out = self.decode(z, c)
        rec = _reconstruction(out, x, layout, self.log_sigma if log_sigma is None else log_sigma)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
        return rec + beta * kl, rec, kl


def _reconstruction(out: Tensor, x: Tensor, layout: BlockLayout, log_sigma: Tensor) -> Tensor:
    """Gaussian NLL on continuous columns plus cross-entropy on every one-hot group."""
    total = out.new_zeros(())
    if layout.cont.numel():
        m = out[:, layout.cont]
        m = torch.where(layout.tanh_mask, torch.tanh(m), m)
        ls = log_sigma[..., layout.cont].clamp(-5, 2)  # (D,) shared or (rows, D) per row
        total = total + ((x[:, layout.cont] - m) ** 2 / (2 * torch.exp(2 * ls)) + ls).sum(1).mean()
    return total + layout.cross_entropy(out, x)


def finalize(
    out: Tensor, layout: BlockLayout, *, noise_scale: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    """Turn raw outputs into encoded rows: add noise to reals, draw one category per group."""
    res = out.clone()
    if layout.cont.numel():
        m = out[:, layout.cont]
        m = torch.where(layout.tanh_mask, torch.tanh(m), m)
        if noise_scale is not None:
            eps = torch.randn(m.shape, generator=generator, dtype=m.dtype)
            m = m + eps * noise_scale[layout.cont].clamp(-5, 2).exp()
        res[:, layout.cont] = torch.where(layout.tanh_mask, m.clamp(-1, 1), m)
    for start, dim in layout.softmax:
        probs = torch.softmax(out[:, start : start + dim], dim=1)
        idx = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        res[:, start : start + dim] = F.one_hot(idx, dim).to(res.dtype)
    return res


class _Residual(nn.Module):
    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class CTGANGenerator(nn.Module):
    """CTGAN's residual generator: ``[z, cond] -> raw block outputs``."""

    def __init__(self, noise_dim: int, cond_dim: int, hidden: Sequence[int], data_dim: int) -> None:
        super().__init__()
        self.noise_dim, self.cond_dim = noise_dim, cond_dim
        layers: list[nn.Module] = []
        dim = noise_dim + cond_dim
        for h in hidden:
            layers.append(_Residual(dim, h))
            dim += h
        layers.append(nn.Linear(dim, data_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        """Raw outputs (apply :func:`gan_activate` or :func:`finalize`)."""
        return self.net(torch.cat([z, c], dim=1))


class CTGANDiscriminator(nn.Module):
    """A PacGAN critic: scores groups of ``pac`` rows (with their condition vectors) at once."""

    def __init__(self, in_dim: int, hidden: Sequence[int], pac: int) -> None:
        super().__init__()
        self.pac = pac
        layers: list[nn.Module] = []
        dim = in_dim * pac
        for h in hidden:
            layers += [nn.Linear(dim, h), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            dim = h
        layers.append(nn.Linear(dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """One score per pack of ``pac`` rows."""
        return self.net(x.reshape(-1, x.shape[1] * self.pac))

    def gradient_penalty(self, real: Tensor, fake: Tensor, lam: float = 10.0) -> Tensor:
        """WGAN-GP penalty on interpolates (pack-wise mixing weights, as in CTGAN)."""
        alpha = torch.rand(real.shape[0] // self.pac, 1, 1).repeat(1, self.pac, real.shape[1])
        alpha = alpha.reshape(-1, real.shape[1])
        mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad = torch.autograd.grad(self(mix).sum(), mix, create_graph=True)[0]
        norms = grad.reshape(-1, self.pac * real.shape[1]).norm(2, dim=1)
        return lam * ((norms - 1) ** 2).mean()


def gan_activate(out: Tensor, layout: BlockLayout, tau: float = 0.2) -> Tensor:
    """Differentiable activations for the critic: tanh/identity on reals, Gumbel-softmax on groups."""
    parts = []
    cont_kinds = {b.start: b.kind for b in layout.blocks if b.kind != "softmax"}
    for b in layout.blocks:
        seg = out[:, b.start : b.start + b.dim]
        if b.kind == "softmax":
            parts.append(F.gumbel_softmax(seg, tau=tau))
        else:
            parts.append(torch.tanh(seg) if cont_kinds[b.start] == "tanh" else seg)
    return torch.cat(parts, dim=1)
