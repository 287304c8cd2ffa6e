"""Encoder and decoder networks shared by the VAE and AE families, registered by name through
``register_encoders`` / ``register_decoders``: ``conv`` and ``resnet`` for square images of any
supported size, ``mlp`` for vectors or flattened images.

Every factory takes ``data_shape``, ``num_classes`` and ``latent_dim`` plus its own keyword
options. Encoders return ``(N, latent_dim)`` codes (a VAE asks for twice its latent size and
reads ``(mu, logvar)``); decoders return pre-activation outputs of ``data_shape``. Class
conditions enter as one-hot vectors concatenated to the features. Layers come from
:mod:`aigc_sdk.nn`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import Tensor, nn

from aigc_sdk.interfaces import Decoder, Encoder
from aigc_sdk.nn import (
    FusedLeakyReLU,
    OneHotCondition,
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


class _ImageNetwork(nn.Module):
    """Arguments and shape bookkeeping shared by the conv and ResNet encoders/decoders.

    Subclasses build their layers in :meth:`build` from the channel count and the per-stage widths
    (highest resolution first).
    """

    #: Name used in error messages, e.g. ``"encoder 'conv'"``.
    who = "network"

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int,
        channels: int = 32,
        hidden: int = 256,
    ) -> None:
        super().__init__()
        c, size, _ = check_image_shape(data_shape, self.who)
        self.data_shape = (c, size, size)
        self.num_classes, self.latent_dim = num_classes, check_int("latent_dim", latent_dim)
        self.base, stages = conv_stages(size)  # type: ignore[misc]
        self.cond = OneHotCondition(num_classes)
        self.build(c, stage_widths(check_int("channels", channels), stages), check_int("hidden", hidden))

    def build(self, image_channels: int, widths: list[int], hidden: int) -> None:
        """Create the layers."""
        raise NotImplementedError


class _ImageEncoder(_ImageNetwork, Encoder):
    """A down-sampling trunk, then one hidden layer (labels concatenated) and a linear output."""

    def trunk(self, image_channels: int, widths: list[int]) -> list[nn.Module]:
        """The layers from the image to the flattened lowest-resolution features."""
        raise NotImplementedError

    def build(self, image_channels: int, widths: list[int], hidden: int) -> None:
        """Create the trunk, the hidden layer and the output layer."""
        self.features = nn.Sequential(*self.trunk(image_channels, widths), nn.Flatten())
        self.register_load_state_dict_pre_hook(_rename_conv_trunk)
        flat = widths[-1] * self.base**2
        self.fc = nn.Sequential(*mlp_layers(flat + self.cond.dim, hidden, 1))
        self.out = nn.Linear(hidden, self.latent_dim)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return ``(N, latent_dim)`` outputs."""
        return self.out(self.fc(self.cond(self.features(x), condition)))  # type: ignore[no-any-return]


def _rename_conv_trunk(module: nn.Module, state_dict: dict[str, Tensor], prefix: str, *args: object) -> None:
    """Encoders saved before the trunk was called ``features`` named it ``conv``."""
    for key in [k for k in state_dict if k.startswith(prefix + "conv.")]:
        state_dict[prefix + "features." + key[len(prefix + "conv.") :]] = state_dict.pop(key)


class ConvEncoder(_ImageEncoder):
    """One 4x4 stride-2 convolution per stage, then an MLP head to ``latent_dim`` outputs."""

    who = "encoder 'conv'"

    def trunk(self, image_channels: int, widths: list[int]) -> list[nn.Module]:
        """Strided convolutions."""
        return down_conv_layers(image_channels, widths)


class ResNetEncoder(_ImageEncoder):
    """One downsampling residual block per stage, then an MLP head to ``latent_dim`` outputs."""

    who = "encoder 'resnet'"

    def trunk(self, image_channels: int, widths: list[int]) -> list[nn.Module]:
        """Residual blocks and a final activation."""
        chans = [image_channels, *widths]
        blocks: list[nn.Module] = [
            ResBlockDown(a, b, first=i == 0) for i, (a, b) in enumerate(itertools.pairwise(chans))
        ]
        return [*blocks, FusedLeakyReLU(widths[-1])]


class ConvDecoder(_ImageNetwork, Decoder):
    """MLP to a ``(w, b, b)`` map, then one 2x transposed convolution per stage."""

    who = "decoder 'conv'"

    def build(self, image_channels: int, widths: list[int], hidden: int) -> None:
        """Two linear layers to the base map, then the transposed convolutions."""
        widths = widths[::-1]  # widest at the base
        self.c_base = widths[0]
        flat = self.c_base * self.base**2
        self.fc = nn.Sequential(
            *mlp_layers(self.latent_dim + self.cond.dim, hidden, 1), *mlp_layers(hidden, flat, 1)
        )
        self.deconv = nn.Sequential(*up_conv_layers(widths, image_channels))

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return ``(N, C, S, S)`` pre-activation outputs (logits or unsquashed means)."""
        h = self.fc(self.cond(z, condition))
        return self.deconv(h.view(z.shape[0], self.c_base, self.base, self.base))  # type: ignore[no-any-return]


class ResNetDecoder(_ImageNetwork, Decoder):
    """Linear to a ``(w, b, b)`` map, one upsampling residual block per stage, activation, 3x3 conv."""

    who = "decoder 'resnet'"

    def build(self, image_channels: int, widths: list[int], hidden: int) -> None:
        """A hidden layer and a linear map to the base, residual blocks, and the output conv."""
        widths = [*widths[::-1], widths[0]]
        self.c_base = widths[0]
        self.fc = nn.Sequential(
            *mlp_layers(self.latent_dim + self.cond.dim, hidden, 1),
            nn.Linear(hidden, self.c_base * self.base**2),
        )
        # No batch norm: a likelihood model's decoder must not depend on the batch it is in.
        self.blocks = nn.Sequential(
            *(ResBlockUp(a, b, batch_norm=False) for a, b in itertools.pairwise(widths))
        )
        self.out = nn.Sequential(FusedLeakyReLU(widths[-1]), nn.Conv2d(widths[-1], image_channels, 3, 1, 1))

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return ``(N, C, S, S)`` pre-activation outputs."""
        h = self.fc(self.cond(z, condition)).view(z.shape[0], self.c_base, self.base, self.base)
        return self.out(self.blocks(h))  # type: ignore[no-any-return]


class MLPEncoder(Encoder):
    """MLP encoder on flattened inputs to ``latent_dim`` outputs."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int,
        hidden: int = 256,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.data_shape = tuple(int(d) for d in data_shape)
        self.num_classes, self.latent_dim = num_classes, check_int("latent_dim", latent_dim)
        self.cond = OneHotCondition(num_classes)
        hidden = check_int("hidden", hidden)
        self.net = nn.Sequential(
            *mlp_layers(math.prod(self.data_shape) + self.cond.dim, hidden, check_int("layers", layers))
        )
        self.out = nn.Linear(hidden, self.latent_dim)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return ``(N, latent_dim)`` outputs."""
        return self.out(self.net(self.cond(x.flatten(1), condition)))  # type: ignore[no-any-return]


class MLPDecoder(Decoder):
    """MLP decoder back to ``data_shape``; returns pre-activation outputs."""

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int,
        hidden: int = 256,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.data_shape = tuple(int(d) for d in data_shape)
        self.num_classes, self.latent_dim = num_classes, check_int("latent_dim", latent_dim)
        self.cond = OneHotCondition(num_classes)
        self.net = nn.Sequential(
            *mlp_layers(
                self.latent_dim + self.cond.dim,
                check_int("hidden", hidden),
                check_int("layers", layers),
                math.prod(self.data_shape),
            )
        )

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return pre-activation outputs of shape ``(N, *data_shape)``."""
        return self.net(self.cond(z, condition)).view(z.shape[0], *self.data_shape)  # type: ignore[no-any-return]
