"""When training has diverged: one rule for the Trainer and for :class:`FitLoop`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from aigc_sdk.errors import AigcError


class TrainingDivergedError(AigcError, RuntimeError):
    """Training produced a non-finite (or exploding) metric and was stopped.

    ``step`` is the failing step, ``metrics`` its metrics and ``last_checkpoint`` the newest
    good checkpoint (None when none was written).
    """

    def __init__(
        self, message: str, step: int, metrics: Mapping[str, float], last_checkpoint: Path | None
    ) -> None:
        super().__init__(message)
        self.step, self.metrics, self.last_checkpoint = step, dict(metrics), last_checkpoint


def divergence_reason(metrics: Mapping[str, float], threshold: float | None) -> str | None:
    """Why ``metrics`` mean the run diverged (a NaN/inf value, or one whose magnitude exceeds
    ``threshold``), or None when they do not."""
    for key, value in metrics.items():
        value = float(value)
        if not math.isfinite(value):
            return f"{key}={value}"
        if threshold is not None and abs(value) > threshold:
            return f"|{key}|={abs(value):.3g} > divergence_threshold={threshold:g}"
    return None
