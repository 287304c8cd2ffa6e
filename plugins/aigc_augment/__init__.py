"""Image augmentation and content variations: the ``augment`` use-case and ``aigc augment`` CLI.

This module must stay light: it names where things live; torch and the models are imported
only when an augmenter is created or a command runs. The Python API lives in
:mod:`aigc_augment.augmenter` (``augment``, ``Augmenter``), :mod:`aigc_augment.variations`
(``variations``) and :mod:`aigc_augment.grids` (``sample_grid``).
"""

from __future__ import annotations

from typing import Any

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_use_cases(register: Any) -> None:
    """Register the ``augment`` use-case (``aigc_sdk.get_use_case("augment", steps=3000)``)."""
    register(
        "augment",
        "aigc_augment.augmenter:Augmenter",
        summary="Enlarge a small labelled image set with class-conditional samples; VAE latent variations",
        task="image-augmentation",
    )


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``aigc augment generate|variations``."""
    from aigc_augment.cli import add_parser

    add_parser(subparsers)
