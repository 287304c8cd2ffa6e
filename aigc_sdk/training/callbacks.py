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


def _truncate_jsonl(path: Path, max_step: int) -> None:
    """Drop records past ``max_step`` (written by a run that died after its last checkpoint)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line)["step"]) <= max_step:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from a killed process
    path.write_text("".join(k + "\n" for k in keep), encoding="utf-8")


class MetricsLogger(Callback):
    """Appends each step's metrics to ``metrics.jsonl`` and ``metrics.csv`` (and TensorBoard
    when the ``tensorboard`` package is installed)."""

    def __init__(self, out_dir: str | Path, *, every: int = 1, tensorboard: bool | None = None) -> None:
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
        _truncate_jsonl(self.jsonl, start)
        # The CSV is rebuilt from the JSONL so both stay consistent after a crash.
        rows = (
            [json.loads(line) for line in self.jsonl.read_text().splitlines()] if self.jsonl.exists() else []
        )
        self._fields = None
        if rows:
            self._fields = list(rows[0])
            with self.csv.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=self._fields, extrasaction="ignore", restval="")
                w.writeheader()
                w.writerows(rows)
        elif self.csv.exists():
            self.csv.unlink()
        if self._want_tb is not False:
            try:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

                self._tb = SummaryWriter(str(self.dir / "tensorboard"))
            except ImportError:
                self._tb = None

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
        new = self._fields is None
        if new:
            self._fields = list(row)
        with self.csv.open("a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=self._fields or [], extrasaction="ignore", restval="")
            if new:
                w.writeheader()
            w.writerow(row)
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, float(v), step)

    def on_fit_end(self, trainer: Any, model: Any, metrics: Mapping[str, float]) -> None:
        """Close TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
