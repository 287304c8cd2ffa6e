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
        summary="VAE (conv or MLP; Bernoulli or Gaussian decoder; beta; IWAE log-likelihood)",
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
