"""Anomaly / fraud / defect detection with autoencoders and VAEs, registered lazily.

This module must stay light: it names where things live and imports no torch. The
detector lives in :mod:`aigc_anomaly.detector`, the ``aigc anomaly`` command in
:mod:`aigc_anomaly.cli`.
"""

from __future__ import annotations

from typing import Any

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_use_cases(register: Any) -> None:
    """Register the anomaly detector use-case."""
    register(
        "anomaly",
        "aigc_anomaly.detector:Detector",
        summary="AE/VAE anomaly detector: robust scaling, denoised refit, whitened reconstruction scores",
        task="anomaly-detection",
    )


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``aigc anomaly fit|score`` (heavy imports happen inside the handlers)."""
    from aigc_anomaly.cli import add_parser

    add_parser(subparsers)
