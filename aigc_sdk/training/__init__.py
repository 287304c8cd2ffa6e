"""Training: the :class:`Trainer`, callbacks, atomic checkpoints and data parallelism.

Importing this package imports torch; ``import aigc_sdk`` alone does not.
"""

from __future__ import annotations

from aigc_sdk.training.callbacks import Callback, EarlyStopping, MetricsLogger
from aigc_sdk.training.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from aigc_sdk.training.distributed import backward
from aigc_sdk.training.fit_loop import FitLoop
from aigc_sdk.training.quality_monitor import QualityCollapseError, QualityMonitor
from aigc_sdk.training.trainer import Trainer, TrainingDivergedError, select_device

__all__ = [
    "Callback",
    "EarlyStopping",
    "FitLoop",
    "MetricsLogger",
    "QualityCollapseError",
    "QualityMonitor",
    "Trainer",
    "TrainingDivergedError",
    "backward",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "select_device",
]
