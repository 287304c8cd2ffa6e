"""Anomaly / fraud / defect detection (network + classical ensemble, AE, VAE), registered lazily.

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
        summary="anomaly detector: AE + isolation forest + ECOD ensemble (rotation CNN on images), or AE/VAE",
        task="anomaly-detection",
    )


@hookimpl
def register_commands(subparsers: Any) -> None:
    """Add ``aigc anomaly fit|score`` (heavy imports happen inside the handlers)."""
    from aigc_anomaly.cli import add_parser

    add_parser(subparsers)
