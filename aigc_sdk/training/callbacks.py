"""Callback base class and the metric loggers the Trainer installs itself.

A callback is any object with some of the lifecycle methods of :mod:`aigc_sdk.hookspecs`
(``on_fit_start``, ``on_train_step_end``, ``on_checkpoint_saved``, ``on_fit_end``);
subclassing :class:`Callback` is optional.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aigc_sdk.io import atomic_write, atomic_write_text

HOOK_NAMES = ("on_fit_start", "on_train_step_end", "on_checkpoint_saved", "on_fit_end")


class Callback:
    """No-op implementations of every lifecycle hook; override the ones you need."""

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        """Called once before the first step (after any resume)."""

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Mapping[str, float]) -> None:
        """Called after each optimisation step."""

    def on_checkpoint_saved(self, trainer: Any, model: Any, step: int, path: str) -> None:
        """Called after a checkpoint was written completely."""

    def on_fit_end(self, trainer: Any, model: Any, metrics: Mapping[str, float]) -> None:
        """Called once when training stops."""


def _truncate_jsonl(path: Path, max_step: int) -> list[dict[str, Any]]:
    """Drop records past ``max_step`` (written by a run that died after its last checkpoint).

    Returns the rows kept. The file is rewritten (atomically) only when something is dropped,
    so on resume the log is appended to; ``max_step=0`` (a fresh run) empties it.
    """
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    keep: list[str] = []
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
            if int(row["step"]) <= max_step:
                keep.append(line)
                rows.append(row)
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from a killed process
    new = "".join(k + "\n" for k in keep)
    if new != text:
        atomic_write_text(path, new)
    return rows


class MetricsLogger(Callback):
    """Appends each step's metrics to ``metrics.jsonl`` and ``metrics.csv`` (and to TensorBoard
    with ``tensorboard=True``, which needs ``pip install aigc-sdk[tensorboard]``).

    The CSV's columns are every key seen so far: when a row brings a new key (a GAN logs
    ``g_loss`` only on generator steps), the CSV is rebuilt from the JSONL with the wider header.

    At ``on_fit_start`` the log is made to match the trainer's step: a resumed run keeps the
    rows up to the resumed step and appends (rows a killed run wrote after its last checkpoint
    are dropped, so two continuations are never spliced); a fresh run (step 0) starts an empty
    log. The :class:`~aigc_sdk.training.Trainer` refuses a fresh run into a directory that holds
    another run's metrics, so this never erases another run's log unless asked to.
    """

    def __init__(self, out_dir: str | Path, *, every: int = 1, tensorboard: bool = False) -> None:
        self.dir = Path(out_dir)
        self.every = max(1, int(every))
        self.jsonl = self.dir / "metrics.jsonl"
        self.csv = self.dir / "metrics.csv"
        self._tb: Any = None
        self._want_tb = tensorboard
        self._fields: list[str] | None = None

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        """Open the log files; on resume, drop rows newer than the resumed step."""
        self.dir.mkdir(parents=True, exist_ok=True)
        start = int(getattr(trainer, "step", 0))
        rows = _truncate_jsonl(self.jsonl, start)
        # The CSV is rebuilt (atomically) from the JSONL so both stay consistent after a crash.
        self._fields = None
        if rows:
            self._rewrite_csv(rows)
        elif self.csv.exists():
            self.csv.unlink()
        if self._want_tb:
            self._tb = open_tensorboard(self.dir / "tensorboard")

    def _rewrite_csv(self, rows: list[dict[str, Any]]) -> None:
        fields: list[str] = []
        for row in rows:
            fields.extend(k for k in row if k not in fields)
        self._fields = fields

        def _write(tmp: str) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", restval="")
                w.writeheader()
                w.writerows(rows)

        atomic_write(self.csv, _write)

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Mapping[str, float]) -> None:
        """Append one row every ``every`` steps (``step`` is the number of steps done)."""
        if step % self.every and step != getattr(trainer, "steps", -1):
            return
        row = {
            "step": step,
            **{k: (float(v) if math.isfinite(float(v)) else str(v)) for k, v in metrics.items()},
        }
        with self.jsonl.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        if self._fields is None or any(k not in self._fields for k in row):
            self._rewrite_csv(_truncate_jsonl(self.jsonl, step))  # a new column: widen the header
        else:
            with self.csv.open("a", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=self._fields, extrasaction="ignore", restval="")
                w.writerow(row)
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, float(v), step)

    def on_fit_end(self, trainer: Any, model: Any, metrics: Mapping[str, float]) -> None:
        """Close TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def open_tensorboard(log_dir: Path) -> Any:
    """A ``SummaryWriter`` for ``log_dir``; a clear ImportError naming the extra without it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            "tensorboard=True (CLI --tensorboard) needs the tensorboard package: "
            "pip install 'aigc-sdk[tensorboard]'"
        ) from exc
    return SummaryWriter(str(log_dir))


class EarlyStopping(Callback):
    """Stop training when a metric stops improving.

    ``monitor`` names a step metric (e.g. ``"loss"``) or a quality metric measured by a
    :class:`~aigc_sdk.training.QualityMonitor` in the same run (e.g. ``"fid"``, ``"recall"``;
    then each measurement counts once). After ``patience`` values in a row that do not beat the
    best by more than ``min_delta`` (lower is better with ``mode="min"``), it asks the Trainer
    to stop: the run ends normally with a final checkpoint, and ``trainer.stop_reason`` says why.
    Pair it with ``QualityMonitor(best_by=...)`` to keep the best model on disk.
    """

    def __init__(self, monitor: str, *, mode: str = "min", patience: int = 5, min_delta: float = 0.0) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a metric name, got {monitor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive int, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, float(min_delta)
        self.best: float | None = None
        self.bad = 0
        self._seen_quality_step: int | None = None

    def _value(self, trainer: Any, metrics: Mapping[str, float]) -> float | None:
        if self.monitor in metrics:
            return float(metrics[self.monitor])
        for cb in [*getattr(trainer, "user_callbacks", []), *getattr(trainer, "_internal_callbacks", [])]:
            history = getattr(cb, "history", None)
            if history and self.monitor in history[-1] and history[-1].get("step") != self._seen_quality_step:
                self._seen_quality_step = history[-1].get("step")
                return float(history[-1][self.monitor])
        return None

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        """Start counting afresh."""
        self.best, self.bad, self._seen_quality_step = None, 0, None

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Mapping[str, float]) -> None:
        """Compare the newest value with the best and stop after ``patience`` without progress."""
        value = self._value(trainer, metrics)
        if value is None or not math.isfinite(value):
            return
        better = self.best is None or (
            value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        )
        if better:
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad >= self.patience:
            trainer.request_stop(
                f"early stopping: {self.monitor} did not improve on {self.best:.6g} for {self.patience} "
                f"value(s) (step {step})"
            )
