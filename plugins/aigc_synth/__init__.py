"""Tabular synthetic data (augmentation and privacy): the ``synth`` use-case and CLI.

This module must stay light: it names where things live; torch, pandas and the models
are imported only when a synthesizer is created or a command runs.
"""

from __future__ import annotations

from typing import Any

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_use_cases(register: Any) -> None:
    """Register the ``synth`` use-case (``aigc_sdk.get_use_case("synth", kind="tvae")``)."""
    register(
        "synth",
        "aigc_synth.synthesizer:Synthesizer",
        summary="Synthetic tables (TVAE / CTGAN-style, conditional, mixed types, missing values)",
        task="tabular-synthesis",
    )


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``aigc synth fit|sample|report|privacy``."""
    from aigc_synth.cli import add_parser

    add_parser(subparsers)
