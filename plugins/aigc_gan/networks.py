"""Generator and discriminator networks: convolutional (8, 28 or 32 px) and MLP (vectors).

Every non-linearity is :class:`aigc_sdk.ops.FusedLeakyReLU` (bias + leaky ReLU + gain in
one op), so the layers before it carry no bias of their own.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import Discriminator, Generator
from aigc_sdk.ops import FusedLeakyReLU

#: Image sizes the conv networks support (two stride-2 stages from ``size // 4``).
CONV_SIZES = (8, 28, 32)


def pick_arch(arch: str, data_shape: tuple[int, ...]) -> str:
    """Resolve ``arch="auto"`` to ``"conv"`` for supported square images, else ``"mlp"``."""
    if arch not in ("auto", "conv", "mlp"):
        raise ValueError(f"arch must be 'auto', 'conv' or 'mlp', got {arch!r}")
    is_conv_shape = len(data_shape) == 3 and data_shape[1] == data_shape[2] and data_shape[1] in CONV_SIZES
    if arch == "conv" and not is_conv_shape:
        raise ValueError(f"arch='conv' needs data_shape (C, S, S) with S in {CONV_SIZES}, got {data_shape}")
    if arch == "auto":
        return "conv" if is_conv_shape else "mlp"
    return arch


class _LabelEmbedding(nn.Module):
    """Learned class embedding concatenated to the latent (absent when unconditional)."""

    def __init__(self, num_classes: int | None, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None
        self.dim = dim if num_classes else 0

    def forward(self, z: Tensor, condition: Tensor | None) -> Tensor:
        if self.embed is None:
            return z
        if condition is None:
            raise ValueError("condition (class labels) is required by a class-conditional network")
        return torch.cat([z, self.embed(condition.long())], dim=1)


class ConvGenerator(Generator):
    """DCGAN-style generator: linear -> (2c, s/4, s/4) -> two 2x up-convolutions -> sigmoid.

    With ``output_conv`` the second up-convolution keeps ``c/2`` feature maps and a 3x3
    convolution writes the image (the layout saved models from before the current recipe use);
    without it, the second up-convolution writes the image, which halves the work at full size.
    """

    def __init__(
        self,
        data_shape: tuple[int, int, int],
        latent_dim: int = 64,
        channels: int = 64,
        num_classes: int | None = None,
        embed_dim: int = 32,
        batch_norm: bool = True,
        output_conv: bool = True,
    ) -> None:
        super().__init__()
        c_out, size, _ = data_shape
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.base = size // 4
        c2 = channels * 2
        self.label = _LabelEmbedding(num_classes, embed_dim)

        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if batch_norm else nn.Identity()

        self.fc = nn.Linear(latent_dim + self.label.dim, c2 * self.base * self.base, bias=False)
        self.fc_norm = nn.BatchNorm1d(c2 * self.base * self.base) if batch_norm else nn.Identity()
        self.fc_act = FusedLeakyReLU(c2 * self.base * self.base)
        first: list[nn.Module] = [
            nn.ConvTranspose2d(c2, channels, 4, 2, 1, bias=False),
            norm(channels),
            FusedLeakyReLU(channels),
        ]
        if output_conv:
            last: list[nn.Module] = [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                norm(channels // 2),
                FusedLeakyReLU(channels // 2),
                nn.Conv2d(channels // 2, c_out, 3, 1, 1),
            ]
        else:
            last = [nn.ConvTranspose2d(channels, c_out, 4, 2, 1)]
        self.body = nn.Sequential(*first, *last)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Map ``(N, latent_dim)`` latents to ``(N, C, S, S)`` images in [0, 1]."""
        h = self.fc_act(self.fc_norm(self.fc(self.label(z, condition))))
        h = h.view(z.shape[0], -1, self.base, self.base)
        return torch.sigmoid(self.body(h))


class MLPGenerator(Generator):
    """MLP generator for vectors (or flattened images); linear output, or sigmoid for images."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int = 64,
        hidden: int = 256,
        num_classes: int | None = None,
        embed_dim: int = 32,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.data_shape = latent_dim, num_classes, data_shape
        self.label = _LabelEmbedding(num_classes, embed_dim)
        mods: list[nn.Module] = []
        width = latent_dim + self.label.dim
        for _ in range(layers):
            mods += [nn.Linear(width, hidden, bias=False), FusedLeakyReLU(hidden, dim=1)]
            width = hidden
        mods.append(nn.Linear(width, math.prod(data_shape)))
        self.net = nn.Sequential(*mods)
        # Images live in [0, 1]; free vectors are unbounded.
        self.squash = len(data_shape) == 3

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Map latents to samples of ``data_shape``."""
        out = self.net(self.label(z, condition)).view(z.shape[0], *self.data_shape)
        return torch.sigmoid(out) if self.squash else out


def spectral_normed(module: nn.Module, enabled: bool) -> nn.Module:
    """``module`` with spectral normalisation of its weight (Miyato et al. 2018) when ``enabled``.

    It bounds each layer's Lipschitz constant, which keeps the discriminator's gradients useful
    to the generator without a gradient penalty.
    """
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class _ProjectionHead(nn.Module):
    """Real/fake logit with a class projection term, plus an optional auxiliary classifier."""

    def __init__(
        self, features: int, num_classes: int | None, aux_classifier: bool, sn: bool = False
    ) -> None:
        super().__init__()
        self.out = spectral_normed(nn.Linear(features, 1), sn)
        self.proj: nn.Module | None = None
        if num_classes:
            embed = nn.Embedding(num_classes, features)
            nn.init.normal_(embed.weight, std=0.02)
            self.proj = spectral_normed(embed, sn)
        self.aux = nn.Linear(features, num_classes) if (num_classes and aux_classifier) else None

    def forward(self, h: Tensor, condition: Tensor | None) -> tuple[Tensor, Tensor | None]:
        logit = self.out(h).squeeze(1)
        if self.proj is not None:
            if condition is None:
                raise ValueError("condition (class labels) is required by a class-conditional network")
            logit = logit + (self.proj(condition.long()) * h).sum(dim=1)
        return logit, (self.aux(h) if self.aux is not None else None)


class _ScoringDiscriminator(Discriminator):
    """Shared head logic: :meth:`scores` returns (logits, class logits or None)."""

    features: nn.Module
    head: _ProjectionHead

    def scores(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Real/fake logits ``(N,)`` and, with an auxiliary classifier, class logits."""
        return self.head(self.features(x), condition)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return one real/fake logit per sample."""
        return self.scores(x, condition)[0]


class ConvDiscriminator(_ScoringDiscriminator):
    """Two stride-2 convolutions, a hidden linear layer and a projection head
    (optionally spectrally normalised throughout)."""

    def __init__(
        self,
        data_shape: tuple[int, int, int],
        channels: int = 64,
        num_classes: int | None = None,
        hidden: int = 256,
        aux_classifier: bool = False,
        dropout: float = 0.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        c_in, size, _ = data_shape
        self.num_classes = num_classes
        width = channels * 2 * (size // 4) ** 2
        sn = spectral_norm
        layers: list[nn.Module] = [
            spectral_normed(nn.Conv2d(c_in, channels, 4, 2, 1, bias=False), sn),
            FusedLeakyReLU(channels),
            spectral_normed(nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False), sn),
            FusedLeakyReLU(channels * 2),
            nn.Flatten(),
        ]
        if hidden:  # 0: the head reads the flattened conv features directly
            layers += [spectral_normed(nn.Linear(width, hidden, bias=False), sn), FusedLeakyReLU(hidden)]
            width = hidden
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        self.head = _ProjectionHead(width, num_classes, aux_classifier, sn)


class MLPDiscriminator(_ScoringDiscriminator):
    """MLP discriminator for vectors (or flattened images)."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        hidden: int = 256,
        num_classes: int | None = None,
        layers: int = 2,
        aux_classifier: bool = False,
        dropout: float = 0.0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        mods: list[nn.Module] = [nn.Flatten()]
        width = math.prod(data_shape)
        for _ in range(layers):
            mods += [
                spectral_normed(nn.Linear(width, hidden, bias=False), spectral_norm),
                FusedLeakyReLU(hidden),
            ]
            if dropout > 0:  # small data sets: keeps the discriminator from memorising them
                mods.append(nn.Dropout(dropout))
            width = hidden
        self.features = nn.Sequential(*mods)
        self.head = _ProjectionHead(hidden, num_classes, aux_classifier, spectral_norm)
