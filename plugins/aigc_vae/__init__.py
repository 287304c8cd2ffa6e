"""VAE model family (unconditional and class-conditional), registered lazily.

This module must stay light: it names where the models live and imports no torch.
"""

from __future__ import annotations

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    """Register the VAE models shipped with the SDK."""
    register(
        "vae",
        "aigc_vae.models:VAE",
        summary="VAE (conv, ResNet, MLP or any registered networks; Bernoulli or Gaussian decoder; beta; "
        "IWAE log-likelihood)",
        family="vae",
        conditional=False,
    )
    register(
        "cvae",
        "aigc_vae.models:ConditionalVAE",
        summary="class-conditional VAE (labels fed to encoder and decoder)",
        family="vae",
        conditional=True,
    )


@hookimpl
def register_encoders(register):  # type: ignore[no-untyped-def]
    """Register the encoder networks the VAE and AE models build by name."""
    register(
        "conv", "aigc_vae.networks:ConvEncoder", summary="strided-conv encoder, any supported image size"
    )
    register(
        "resnet", "aigc_vae.networks:ResNetEncoder", summary="residual encoder, any supported image size"
    )
    register("mlp", "aigc_vae.networks:MLPEncoder", summary="MLP encoder for vectors or flattened images")


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    """Register the decoder networks the VAE and AE models build by name."""
    register(
        "conv", "aigc_vae.networks:ConvDecoder", summary="transposed-conv decoder, any supported image size"
    )
    register(
        "resnet", "aigc_vae.networks:ResNetDecoder", summary="residual decoder, any supported image size"
    )
    register("mlp", "aigc_vae.networks:MLPDecoder", summary="MLP decoder for vectors or flattened images")
