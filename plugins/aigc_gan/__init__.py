"""GAN model family (unconditional and class-conditional), registered lazily.

This module must stay light: it names where the models live and imports no torch.
"""

from __future__ import annotations

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    """Register the GAN models shipped with the SDK."""
    register(
        "gan",
        "aigc_gan.models:GAN",
        summary="GAN (conv for 8/28/32 px images, MLP for vectors); hinge/NS/WGAN-GP/LSGAN, spectral norm, "
        "lazy R1, DiffAugment, EMA generator with ramp-up",
        family="gan",
        conditional=False,
    )
    register(
        "cgan",
        "aigc_gan.models:ConditionalGAN",
        summary="class-conditional GAN (projection discriminator, optional auxiliary classifier)",
        family="gan",
        conditional=True,
    )
