"""A conv discriminator with a minibatch standard-deviation feature map.

Before its last layers the discriminator sees, besides each sample's features, how much the
samples of its group differ from one another. A collapsed generator's batch has a small spread,
which real batches do not, so D can penalise the collapse (Karras et al. 2018, "Progressive
Growing of GANs"). Built only from the SDK's public toolkit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import Discriminator
from aigc_sdk.nn import (
    ProjectionHead,
    check_image_shape,
    conv_stages,
    down_conv_layers,
    spectral_normed,
    stage_widths,
)
from aigc_sdk.ops import FusedLeakyReLU


def minibatch_std(h: Tensor, group: int) -> Tensor:
    """Append one channel holding the mean standard deviation of ``h`` over groups of samples."""
    n, c, height, width = h.shape
    g = min(group, n)
    if n % g:  # odd batch sizes: fall back to the whole batch as one group
        g = n
    y = h.reshape(g, n // g, c, height, width)
    std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n // g,)
    feat = std.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, height, width)
    return torch.cat([h, feat], dim=1)


class MinibatchStdDiscriminator(Discriminator):
    """Strided convolutions, a minibatch-std channel, a 3x3 convolution and a projection head.

    Args:
        data_shape, num_classes, latent_dim: given by the model (``latent_dim`` is unused).
        channels: width of the first convolution (doubling per stage).
        group: samples per minibatch-std group.
        spectral_norm: spectrally normalise every layer.
        aux_classifier: add class logits (for a GAN's auxiliary loss), returned by :meth:`scores`.
    """

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        num_classes: int | None = None,
        latent_dim: int | None = None,
        channels: int = 32,
        group: int = 4,
        spectral_norm: bool = True,
        aux_classifier: bool = False,
    ) -> None:
        super().__init__()
        c_in, size, _ = check_image_shape(data_shape, "discriminator 'minibatch-std-d'")
        if isinstance(group, bool) or not isinstance(group, int) or group < 2:
            raise ValueError(f"group must be an int >= 2, got {group!r}")
        self.num_classes, self.group = num_classes, group
        base, stages = conv_stages(size)  # type: ignore[misc]
        widths = stage_widths(channels, stages)
        self.trunk = nn.Sequential(*down_conv_layers(c_in, widths, spectral_norm=spectral_norm))
        last = widths[-1]
        self.mix = nn.Sequential(
            spectral_normed(nn.Conv2d(last + 1, last, 3, 1, 1, bias=False), spectral_norm),
            FusedLeakyReLU(last),
            nn.Flatten(),
        )
        self.head = ProjectionHead(last * base * base, num_classes, aux_classifier, spectral_norm)

    def scores(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Real/fake logits ``(N,)`` and class logits (with ``aux_classifier``) or ``None``."""
        h = self.mix(minibatch_std(self.trunk(x), self.group))
        return self.head(h, condition)  # type: ignore[no-any-return]

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """One real/fake logit per sample."""
        return self.scores(x, condition)[0]
