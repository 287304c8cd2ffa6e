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
        summary="GAN (conv or ResNet networks for images, MLP for vectors, or any registered ones); "
        "hinge/NS/WGAN-GP/LSGAN, spectral norm, "
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


@hookimpl
def register_generators(register):  # type: ignore[no-untyped-def]
    """Register the generator networks the GAN models build by name."""
    register(
        "conv",
        "aigc_gan.networks:ConvGenerator",
        summary="DCGAN-style transposed-conv generator, any supported image size",
    )
    register(
        "resnet",
        "aigc_gan.networks:ResNetGenerator",
        summary="SNGAN/BigGAN-style residual generator, any supported image size",
    )
    register("mlp", "aigc_gan.networks:MLPGenerator", summary="MLP generator for vectors or flattened images")


@hookimpl
def register_discriminators(register):  # type: ignore[no-untyped-def]
    """Register the discriminator networks the GAN models build by name."""
    register(
        "conv",
        "aigc_gan.networks:ConvDiscriminator",
        summary="strided-conv projection discriminator, spectral norm",
    )
    register(
        "resnet",
        "aigc_gan.networks:ResNetDiscriminator",
        summary="SNGAN-style residual projection discriminator, spectral norm",
    )
    register(
        "mlp",
        "aigc_gan.networks:MLPDiscriminator",
        summary="MLP projection discriminator for vectors or flattened images",
    )
