"""Generator and discriminator networks, registered by name through ``register_generators`` /
``register_discriminators``: ``conv`` (DCGAN-style), ``resnet`` (SNGAN/BigGAN-style residual
blocks) for square images of any supported size, and ``mlp`` for vectors or flattened images.

Every factory takes ``data_shape``, ``num_classes`` and ``latent_dim`` plus its own keyword
options, so a plugin's network can replace any of them. All layers come from :mod:`aigc_sdk.nn`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import Discriminator, Generator
from aigc_sdk.nn import (
    ClassEmbedding,
    FusedLeakyReLU,
    ProjectionHead,
    ResBlockDown,
    ResBlockUp,
    check_image_shape,
    conv_stages,
    down_conv_layers,
    mlp_layers,
    stage_widths,
    up_conv_layers,
)
from aigc_sdk.validation import check_int


def _dropout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {value!r}")
    return float(value)


class _ImageGenerator(Generator):
    """Shared front of the image generators: latent (+ class embedding) -> linear -> base map."""

    def _init_front(
        self, data_shape: Sequence[int], latent_dim: int, num_classes: int | None, embed_dim: int, who: str
    ) -> tuple[int, int, int]:
        c, size, _ = check_image_shape(data_shape, who)
        self.data_shape = (c, size, size)
        self.latent_dim = check_int("latent_dim", latent_dim)
        self.num_classes = num_classes
        self.base, self.stages = conv_stages(size)  # type: ignore[misc]
        self.label = ClassEmbedding(num_classes, check_int("embed_dim", embed_dim))
        return c, self.base, self.stages


class ConvGenerator(_ImageGenerator):
    """DCGAN-style generator: linear -> ``(w, b, b)`` map -> one 2x transposed conv per stage -> sigmoid.

    Widths halve at each stage down to ``channels``. With ``output_conv`` the last stage keeps
    ``channels / 2`` maps and a 3x3 convolution writes the image (the layout of saved models from
    before the current recipe); without it the last transposed convolution writes the image.
    """

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int = 64,
        channels: int = 32,
        embed_dim: int = 32,
        batch_norm: bool = True,
        output_conv: bool = False,
    ) -> None:
        super().__init__()
        c_out, base, stages = self._init_front(
            data_shape, latent_dim, num_classes, embed_dim, "generator 'conv'"
        )
        widths = stage_widths(check_int("channels", channels), stages)[::-1]  # widest first
        flat = widths[0] * base * base
        self.fc = nn.Linear(self.latent_dim + self.label.dim, flat, bias=False)
        self.fc_norm = nn.BatchNorm1d(flat) if batch_norm else nn.Identity()
        self.fc_act = FusedLeakyReLU(flat)
        self.body = nn.Sequential(
            *up_conv_layers(widths, c_out, batch_norm=batch_norm, output_conv=output_conv)
        )

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Map ``(N, latent_dim)`` latents to ``(N, C, S, S)`` images in [0, 1]."""
        h = self.fc_act(self.fc_norm(self.fc(self.label(z, condition))))
        h = h.view(z.shape[0], -1, self.base, self.base)
        return torch.sigmoid(self.body(h))


class ResNetGenerator(_ImageGenerator):
    """SNGAN/BigGAN-style generator: linear -> base map -> one upsampling residual block per
    stage -> BN -> activation -> 3x3 conv -> sigmoid."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int = 64,
        channels: int = 32,
        embed_dim: int = 32,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        c_out, base, stages = self._init_front(
            data_shape, latent_dim, num_classes, embed_dim, "generator 'resnet'"
        )
        widths = stage_widths(check_int("channels", channels), stages)[::-1]
        widths.append(widths[-1])  # the last block keeps the width; the output conv writes the image
        self.fc = nn.Linear(self.latent_dim + self.label.dim, widths[0] * base * base)
        self.blocks = nn.Sequential(
            *(ResBlockUp(a, b, batch_norm=batch_norm) for a, b in itertools.pairwise(widths))
        )
        self.out = nn.Sequential(
            nn.BatchNorm2d(widths[-1]) if batch_norm else nn.Identity(),
            FusedLeakyReLU(widths[-1]),
            nn.Conv2d(widths[-1], c_out, 3, 1, 1),
        )

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Map ``(N, latent_dim)`` latents to ``(N, C, S, S)`` images in [0, 1]."""
        h = self.fc(self.label(z, condition)).view(z.shape[0], -1, self.base, self.base)
        return torch.sigmoid(self.out(self.blocks(h)))


class MLPGenerator(Generator):
    """MLP generator for vectors (or flattened images); linear output, or sigmoid for images."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int = 64,
        hidden: int = 256,
        embed_dim: int = 32,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim)
        self.num_classes, self.data_shape = num_classes, tuple(int(d) for d in data_shape)
        self.label = ClassEmbedding(num_classes, check_int("embed_dim", embed_dim))
        width = self.latent_dim + self.label.dim
        self.net = nn.Sequential(
            *mlp_layers(
                width,
                check_int("hidden", hidden),
                check_int("layers", layers),
                math.prod(self.data_shape),
            )
        )
        # Images live in [0, 1]; free vectors are unbounded.
        self.squash = len(self.data_shape) == 3

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Map latents to samples of ``data_shape``."""
        out = self.net(self.label(z, condition)).view(z.shape[0], *self.data_shape)
        return torch.sigmoid(out) if self.squash else out


class ScoringDiscriminator(Discriminator):
    """A feature network and a projection head; :meth:`scores` also returns class logits.

    Implements :class:`aigc_sdk.interfaces.ScoringDiscriminator`, which an auxiliary
    classifier loss needs.
    """

    features: nn.Module
    head: ProjectionHead

    def scores(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Real/fake logits ``(N,)`` and, with ``aux_classifier``, class logits ``(N, K)``."""
        return self.head(self.features(x), condition)  # type: ignore[no-any-return]

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return one real/fake logit per sample."""
        return self.scores(x, condition)[0]

    def _init_image(
        self, data_shape: Sequence[int], num_classes: int | None, channels: int, who: str
    ) -> tuple[int, int, list[int]]:
        """Check the image shape; return ``(channels in, base side, per-stage widths)``."""
        c_in, size, _ = check_image_shape(data_shape, who)
        self.data_shape, self.num_classes = (c_in, size, size), num_classes
        base, stages = conv_stages(size)  # type: ignore[misc]
        return c_in, base, stage_widths(check_int("channels", channels), stages)

    def _finish(
        self, layers: list[nn.Module], width: int, dropout: float, aux_classifier: bool, sn: bool
    ) -> None:
        """Set ``features`` (with optional dropout at the end) and the projection head."""
        dropout = _dropout(dropout)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        self.head = ProjectionHead(width, self.num_classes, aux_classifier, sn)


class ConvDiscriminator(ScoringDiscriminator):
    """One 4x4 stride-2 convolution per stage (widths doubling from ``channels``), an optional
    hidden linear layer and a projection head; optionally spectrally normalised throughout."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int | None = None,
        channels: int = 32,
        hidden: int = 0,
        aux_classifier: bool = False,
        dropout: float = 0.0,
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        c_in, base, widths = self._init_image(data_shape, num_classes, channels, "discriminator 'conv'")
        sn = spectral_norm
        layers = [*down_conv_layers(c_in, widths, spectral_norm=sn), nn.Flatten()]
        width = widths[-1] * base * base
        hidden = check_int("hidden", hidden, minimum=0)
        if hidden:  # 0: the head reads the flattened conv features directly
            layers += mlp_layers(width, hidden, 1, spectral_norm=sn)
            width = hidden
        self._finish(layers, width, dropout, aux_classifier, sn)


class _SumPool(nn.Module):
    """Activation, then the sum over spatial positions (SNGAN's global pooling)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.act = FusedLeakyReLU(channels)

    def forward(self, h: Tensor) -> Tensor:
        return self.act(h).sum(dim=(2, 3))


class ResNetDiscriminator(ScoringDiscriminator):
    """SNGAN-style discriminator: one downsampling residual block per stage, global sum pooling
    and a projection head; spectrally normalised by default."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int | None = None,
        channels: int = 32,
        aux_classifier: bool = False,
        dropout: float = 0.0,
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        c_in, _, widths = self._init_image(data_shape, num_classes, channels, "discriminator 'resnet'")
        chans = [c_in, *widths]
        blocks: list[nn.Module] = [
            ResBlockDown(a, b, spectral_norm=spectral_norm, first=i == 0)
            for i, (a, b) in enumerate(itertools.pairwise(chans))
        ]
        blocks.append(_SumPool(widths[-1]))
        self._finish(blocks, widths[-1], dropout, aux_classifier, spectral_norm)


class MLPDiscriminator(ScoringDiscriminator):
    """MLP discriminator for vectors (or flattened images)."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int | None = None,
        hidden: int = 256,
        layers: int = 2,
        aux_classifier: bool = False,
        dropout: float = 0.0,
        spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        self.data_shape, self.num_classes = tuple(int(d) for d in data_shape), num_classes
        hidden = check_int("hidden", hidden)
        self.features = nn.Sequential(
            nn.Flatten(),
            # Dropout keeps the discriminator from memorising small data sets.
            *mlp_layers(
                math.prod(self.data_shape),
                hidden,
                check_int("layers", layers),
                spectral_norm=spectral_norm,
                dropout=_dropout(dropout),
            ),
        )
        self.head = ProjectionHead(hidden, num_classes, aux_classifier, spectral_norm)
