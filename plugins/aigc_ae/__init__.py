"""Autoencoder model family (plain and denoising), registered lazily.

This module must stay light: it names where the models live and imports no torch.
"""

from __future__ import annotations

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    """Register the autoencoders shipped with the SDK."""
    register(
        "ae",
        "aigc_ae.models:AutoEncoder",
        summary="autoencoder (conv or MLP), latent interpolation; samples from a Gaussian fit of the codes",
        family="ae",
    )
    register(
        "dae",
        "aigc_ae.models:DenoisingAutoEncoder",
        summary="denoising autoencoder (Gaussian input noise, noise_std=0.3 by default)",
        family="ae",
    )
