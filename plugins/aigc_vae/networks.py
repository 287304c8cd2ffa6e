"""VAE encoders (returning ``(mu, logvar)``) and decoders (returning likelihood parameters).

Conv networks handle square images whose side is divisible by 4 (8, 28, 32, ...); MLPs
handle anything. Class conditions enter as one-hot vectors concatenated to the features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_sdk.interfaces import Decoder, Encoder
from aigc_sdk.ops import FusedLeakyReLU


def pick_arch(arch: str, data_shape: tuple[int, ...]) -> str:
    """Resolve ``"auto"`` to ``"conv"`` for square images with side divisible by 4, else ``"mlp"``."""
    if arch not in ("auto", "conv", "mlp"):
        raise ValueError(f"arch must be 'auto', 'conv' or 'mlp', got {arch!r}")
    conv_ok = len(data_shape) == 3 and data_shape[1] == data_shape[2] and data_shape[1] % 4 == 0
    if arch == "conv" and not conv_ok:
        raise ValueError(f"arch='conv' needs data_shape (C, S, S) with S divisible by 4, got {data_shape}")
    return ("conv" if conv_ok else "mlp") if arch == "auto" else arch


def one_hot(condition: Tensor | None, num_classes: int | None, ref: Tensor) -> Tensor | None:
    """One-hot float labels on ``ref``'s device/dtype, or None for unconditional networks."""
    if not num_classes:
        return None
    if condition is None:
        raise ValueError("condition (class labels) is required by a class-conditional network")
    return F.one_hot(condition.long().to(ref.device), num_classes).to(ref.dtype)


def _cat(h: Tensor, y: Tensor | None) -> Tensor:
    return h if y is None else torch.cat([h, y], dim=1)


class ConvEncoder(Encoder):
    """Two stride-2 convolutions and an MLP head producing ``(mu, logvar)``."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        channels: int = 32,
        hidden: int = 256,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        c_in, size = data_shape[0], data_shape[1]
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, channels, 4, 2, 1, bias=False),
            FusedLeakyReLU(channels),
            nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
            FusedLeakyReLU(channels * 2),
            nn.Flatten(),
        )
        flat = channels * 2 * (size // 4) ** 2
        self.fc = nn.Sequential(
            nn.Linear(flat + (num_classes or 0), hidden, bias=False), FusedLeakyReLU(hidden)
        )
        self.out = nn.Linear(hidden, 2 * latent_dim)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return ``(mu, logvar)``, each ``(N, latent_dim)``."""
        h = self.conv(x)
        h = self.fc(_cat(h, one_hot(condition, self.num_classes, h)))
        mu, logvar = self.out(h).chunk(2, dim=1)
        return mu, logvar


class ConvDecoder(Decoder):
    """MLP to a ``(2c, S/4, S/4)`` map, then two 2x up-convolutions; returns logits / means."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        channels: int = 32,
        hidden: int = 256,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        c_out, size = data_shape[0], data_shape[1]
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.base, self.c2 = size // 4, channels * 2
        flat = self.c2 * self.base**2
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + (num_classes or 0), hidden, bias=False),
            FusedLeakyReLU(hidden),
            nn.Linear(hidden, flat, bias=False),
            FusedLeakyReLU(flat),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(self.c2, channels, 4, 2, 1, bias=False),
            FusedLeakyReLU(channels),
            nn.ConvTranspose2d(channels, c_out, 4, 2, 1),
        )

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return ``(N, C, S, S)`` pre-activation outputs (logits or unsquashed means)."""
        h = self.fc(_cat(z, one_hot(condition, self.num_classes, z)))
        return self.deconv(h.view(z.shape[0], self.c2, self.base, self.base))


class MLPEncoder(Encoder):
    """MLP encoder on flattened inputs, returning ``(mu, logvar)``."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        hidden: int = 256,
        num_classes: int | None = None,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        mods: list[nn.Module] = []
        width = math.prod(data_shape) + (num_classes or 0)
        for _ in range(layers):
            mods += [nn.Linear(width, hidden, bias=False), FusedLeakyReLU(hidden)]
            width = hidden
        self.net = nn.Sequential(*mods)
        self.out = nn.Linear(width, 2 * latent_dim)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return ``(mu, logvar)``."""
        h = x.flatten(1)
        h = self.net(_cat(h, one_hot(condition, self.num_classes, h)))
        mu, logvar = self.out(h).chunk(2, dim=1)
        return mu, logvar


class MLPDecoder(Decoder):
    """MLP decoder back to ``data_shape``; returns logits / unsquashed means."""

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        hidden: int = 256,
        num_classes: int | None = None,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.data_shape = latent_dim, num_classes, data_shape
        mods: list[nn.Module] = []
        width = latent_dim + (num_classes or 0)
        for _ in range(layers):
            mods += [nn.Linear(width, hidden, bias=False), FusedLeakyReLU(hidden)]
            width = hidden
        mods.append(nn.Linear(width, math.prod(data_shape)))
        self.net = nn.Sequential(*mods)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return pre-activation outputs of shape ``(N, *data_shape)``."""
        out = self.net(_cat(z, one_hot(condition, self.num_classes, z)))
        return out.view(z.shape[0], *self.data_shape)
