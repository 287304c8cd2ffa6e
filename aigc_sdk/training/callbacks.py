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
    """Appends each step's metrics to ``metrics.jsonl`` and ``metrics.csv`` (and TensorBoard
    when the ``tensorboard`` package is installed).

    At ``on_fit_start`` the log is made to match the trainer's step: a resumed run keeps the
    rows up to the resumed step and appends (rows a killed run wrote after its last checkpoint
    are dropped, so two continuations are never spliced); a fresh run (step 0) starts an empty
    log. The :class:`~aigc_sdk.training.Trainer` refuses a fresh run into a directory that holds
    another run's metrics, so this never erases another run's log unless asked to.
    """

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
        rows = _truncate_jsonl(self.jsonl, start)
        # The CSV is rebuilt (atomically) from the JSONL so both stay consistent after a crash.
        self._fields = None
        if rows:
            fields = list(rows[0])
            self._fields = fields

            def _write(tmp: str) -> None:
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", restval="")
                    w.writeheader()
                    w.writerows(rows)

            atomic_write(self.csv, _write)
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
