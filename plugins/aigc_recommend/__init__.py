"""Recommendation with Mult-VAE / Mult-DAE (Liang et al. 2018), registered lazily.

This module must stay light: it names where things live and imports no torch. The model
lives in :mod:`aigc_recommend.recommender`, the ``aigc recommend`` command in
:mod:`aigc_recommend.cli`.
"""

from __future__ import annotations

from typing import Any

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_use_cases(register: Any) -> None:
    """Register the recommender use-case."""
    register(
        "recommend",
        "aigc_recommend.recommender:Recommender",
        summary="Mult-VAE / Mult-DAE (+ linear item autoencoder) top-K recommender with fold-in",
        task="recommendation",
    )


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``aigc recommend fit|eval`` (heavy imports happen inside the handlers)."""
    from aigc_recommend.cli import add_parser

    add_parser(subparsers)
