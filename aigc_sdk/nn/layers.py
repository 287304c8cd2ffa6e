"""Building blocks shared by every first-party network (and open to plugin authors).

Every non-linearity is :class:`aigc_sdk.ops.FusedLeakyReLU` (bias + leaky ReLU + gain in one
compiled op), so the layer before it carries no bias of its own. Stacks are returned as plain
lists of modules so a network can lay them out in one ``nn.Sequential`` with stable state-dict keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_sdk.ops import FusedLeakyReLU

#: Feature maps never get wider than this many times the base ``channels``.
MAX_WIDTH_MULTIPLIER = 8


def spectral_normed(module: nn.Module, enabled: bool) -> nn.Module:
    """``module`` with spectral normalisation of its weight (Miyato et al. 2018) when ``enabled``.

    It bounds each layer's Lipschitz constant, which keeps a discriminator's gradients useful
    to the generator without a gradient penalty.
    """
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


def stage_widths(channels: int, stages: int) -> list[int]:
    """Feature-map widths from the highest resolution to the lowest: ``c, 2c, 4c, ...`` (capped).

    A down stack uses them in this order; an up stack in reverse.
    """
    return [channels * min(2**i, MAX_WIDTH_MULTIPLIER) for i in range(stages)]


def mlp_layers(
    in_features: int,
    hidden: int,
    layers: int,
    out_features: int | None = None,
    *,
    spectral_norm: bool = False,
    dropout: float = 0.0,
) -> list[nn.Module]:
    """``layers`` x (linear -> fused leaky ReLU [-> dropout]), then an optional output linear."""
    mods: list[nn.Module] = []
    width = in_features
    for _ in range(layers):
        mods += [spectral_normed(nn.Linear(width, hidden, bias=False), spectral_norm), FusedLeakyReLU(hidden)]
        if dropout > 0:
            mods.append(nn.Dropout(dropout))
        width = hidden
    if out_features is not None:
        mods.append(spectral_normed(nn.Linear(width, out_features), spectral_norm))
    return mods


def mlp(
    sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU, *, last_activation: bool = False
) -> nn.Sequential:
    """Linear layers through ``sizes`` (with bias) and ``activation()`` between them (and after the
    last one with ``last_activation``): the plain MLP the use-case networks build on."""
    layers: list[nn.Module] = []
    pairs = list(itertools.pairwise(sizes))
    for i, (a, b) in enumerate(pairs):
        layers.append(nn.Linear(a, b))
        if last_activation or i < len(pairs) - 1:
            layers.append(activation())
    return nn.Sequential(*layers)


def down_conv_layers(in_channels: int, widths: list[int], *, spectral_norm: bool = False) -> list[nn.Module]:
    """One 4x4 stride-2 convolution + activation per width: halves the side each stage."""
    mods: list[nn.Module] = []
    c = in_channels
    for w in widths:
        mods += [spectral_normed(nn.Conv2d(c, w, 4, 2, 1, bias=False), spectral_norm), FusedLeakyReLU(w)]
        c = w
    return mods


def up_conv_layers(
    widths: list[int], out_channels: int, *, batch_norm: bool = False, output_conv: bool = False
) -> list[nn.Module]:
    """Transposed 4x4 stride-2 convolutions from ``widths[0]`` channels, doubling the side each stage.

    Every stage but the last is conv -> [batch norm] -> activation. The last either writes
    ``out_channels`` directly, or (``output_conv``) keeps half the width and a 3x3 convolution
    writes the output.
    """
    mods: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(widths):
        mods += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
        if batch_norm:
            mods.append(nn.BatchNorm2d(c_out))
        mods.append(FusedLeakyReLU(c_out))
    last = widths[-1]
    if output_conv:
        half = max(last // 2, 1)
        mods += [nn.ConvTranspose2d(last, half, 4, 2, 1, bias=False)]
        if batch_norm:
            mods.append(nn.BatchNorm2d(half))
        mods += [FusedLeakyReLU(half), nn.Conv2d(half, out_channels, 3, 1, 1)]
    else:
        mods.append(nn.ConvTranspose2d(last, out_channels, 4, 2, 1))
    return mods


class ResBlockUp(nn.Module):
    """Pre-activation residual block that doubles the side (SNGAN / BigGAN generator block).

    ``[BN] -> act -> 2x nearest -> conv3x3 -> [BN] -> act -> conv3x3`` plus a 1x1-conv shortcut.
    """

    def __init__(self, c_in: int, c_out: int, *, batch_norm: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in) if batch_norm else nn.Identity()
        self.act1 = FusedLeakyReLU(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out) if batch_norm else nn.Identity()
        self.act2 = FusedLeakyReLU(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``(N, c_out, 2H, 2W)``."""
        h = F.interpolate(self.act1(self.norm1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(self.act2(self.norm2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResBlockDown(nn.Module):
    """Pre-activation residual block that halves the side (SNGAN discriminator block).

    ``act -> conv3x3 -> act -> conv3x3 -> avgpool`` plus a ``conv1x1 -> avgpool`` shortcut; the
    first block skips the leading activation so the raw image is not rectified.
    """

    def __init__(self, c_in: int, c_out: int, *, spectral_norm: bool = False, first: bool = False) -> None:
        super().__init__()
        self.act1: nn.Module = nn.Identity() if first else FusedLeakyReLU(c_in)
        self.conv1 = spectral_normed(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), spectral_norm)
        self.act2 = FusedLeakyReLU(c_out)
        self.conv2 = spectral_normed(nn.Conv2d(c_out, c_out, 3, 1, 1), spectral_norm)
        self.skip = spectral_normed(nn.Conv2d(c_in, c_out, 1, bias=False), spectral_norm)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``(N, c_out, H/2, W/2)``."""
        h = self.conv2(self.act2(self.conv1(self.act1(x))))
        return F.avg_pool2d(h + self.skip(x), 2)


class ClassEmbedding(nn.Module):
    """Learned class embedding concatenated to an input vector (a no-op when unconditional)."""

    def __init__(self, num_classes: int | None, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None
        self.dim = dim if num_classes else 0

    def forward(self, h: Tensor, condition: Tensor | None) -> Tensor:
        """``[h, embed(condition)]``; ``condition`` is required when conditional."""
        if self.embed is None:
            return h
        return torch.cat([h, self.embed(require_condition(condition).long())], dim=1)


class OneHotCondition(nn.Module):
    """One-hot class labels concatenated to an input vector (a no-op when unconditional)."""

    def __init__(self, num_classes: int | None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.dim = num_classes or 0

    def forward(self, h: Tensor, condition: Tensor | None) -> Tensor:
        """``[h, one_hot(condition)]`` in ``h``'s dtype and device."""
        if not self.num_classes:
            return h
        y = F.one_hot(require_condition(condition).long().to(h.device), self.num_classes).to(h.dtype)
        return torch.cat([h, y], dim=1)


def require_condition(condition: Tensor | None) -> Tensor:
    """``condition`` itself, or a clear error when a conditional network got none."""
    if condition is None:
        raise ValueError("condition (class labels) is required by a class-conditional network")
    return condition


class ProjectionHead(nn.Module):
    """Real/fake logit with a class-projection term (Miyato & Koyama 2018), plus an optional
    auxiliary classifier (AC-GAN)."""

    def __init__(
        self,
        features: int,
        num_classes: int | None,
        aux_classifier: bool = False,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.out = spectral_normed(nn.Linear(features, 1), spectral_norm)
        self.proj: nn.Module | None = None
        if num_classes:
            embed = nn.Embedding(num_classes, features)
            nn.init.normal_(embed.weight, std=0.02)
            self.proj = spectral_normed(embed, spectral_norm)
        self.aux = nn.Linear(features, num_classes) if (num_classes and aux_classifier) else None

    def forward(self, h: Tensor, condition: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """``(logits (N,), class logits (N, K) or None)`` from features ``h`` ``(N, features)``."""
        logit = self.out(h).squeeze(1)
        if self.proj is not None:
            logit = logit + (self.proj(require_condition(condition).long()) * h).sum(dim=1)
        return logit, (self.aux(h) if self.aux is not None else None)


__all__ = [
    "ClassEmbedding",
    "FusedLeakyReLU",
    "OneHotCondition",
    "ProjectionHead",
    "ResBlockDown",
    "ResBlockUp",
    "down_conv_layers",
    "mlp",
    "mlp_layers",
    "require_condition",
    "spectral_normed",
    "stage_widths",
    "up_conv_layers",
]
