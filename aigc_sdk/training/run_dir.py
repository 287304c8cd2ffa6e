"""The run directory: one ``out_dir`` belongs to one training run.

:class:`RunDirectory` is the part of the :class:`~aigc_sdk.training.Trainer` that owns
``out_dir``: it records the run in ``out_dir/run.json``, refuses a fresh run into a directory
holding another run's checkpoints, metrics, samples or saved model (unless ``overwrite``),
removes that run when asked (checkpoints first, so a kill part-way never leaves an old run that
could still be resumed), and refuses a resume whose model, seed or batch size differ.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aigc_sdk.training.checkpoint as ckpt
from aigc_sdk.errors import AigcError
from aigc_sdk.interfaces import GenerativeModel
from aigc_sdk.io import format_tag, same_format
from aigc_sdk.training.distributed import DistInfo

#: The run identity file in ``out_dir`` (model, seed, batch size, creation time).
RUN_FILE = "run.json"
RUN_FORMAT = format_tag("run")
RUN_FORMAT_VERSION = 1
#: What a run writes into ``out_dir``; ``overwrite=True`` removes these, in this order (the
#: checkpoints first, so a kill part-way never leaves an old run that could still be resumed).
#: ``model`` is where ``aigc train`` (and the demo) save the final model; ``best``, ``best.json``
#: and ``quality.jsonl`` are written by :class:`~aigc_sdk.training.QualityMonitor`.
RUN_ENTRIES = (
    "checkpoints",
    RUN_FILE,
    "model",
    "best",
    "best.json",
    "samples",
    "tensorboard",
    "quality.jsonl",
    "metrics.csv",
    "metrics.jsonl",
)
_TRASH_PREFIX = ".aigc-trash-"
_OWNERSHIP_HINT = (
    "pass resume=True (CLI --resume) to continue it, overwrite=True (CLI --overwrite) to delete it "
    "and start over, or another out_dir"
)


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """A model config without the plugin versions in its network records: upgrading the plugin
    that provides a network does not make a run a different run."""
    out = dict(config)
    for key, value in out.items():
        if isinstance(value, dict) and "plugin" in value and "config" in value:
            out[key] = {k: v for k, v in value.items() if k != "version"}
    return out


class RunDirectoryError(AigcError, ValueError):
    """``out_dir`` holds another run, or a resume does not match the run it would continue.

    ``key`` names what differs (``"out_dir"``, ``"seed"``, ``"batch_size"``, ``"model"`` or
    ``"model.config.<key>"``).
    """

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


class RunDirectory:
    """Run-directory rules of the Trainer (a mixin: the Trainer sets the attributes below)."""

    out_dir: Path | None
    model: GenerativeModel
    model_name: str | None
    seed: int
    batch_size: int
    steps: int
    step: int
    resume: bool | str | Path
    overwrite: bool
    dist: DistInfo
    _owns_out_dir: bool

    @property
    def checkpoint_dir(self) -> Path | None:
        """``<out_dir>/checkpoints`` (None without ``out_dir``)."""
        return self.out_dir / "checkpoints" if self.out_dir is not None else None

    def _model_identity(self) -> dict[str, Any]:
        """Name, class and (JSON round-tripped) config of the model: what a resume must match."""
        from aigc_sdk.io import registered_name

        cls = type(self.model)
        name = self.model_name
        if name is None:
            try:
                name = registered_name(self.model)
            except ValueError:
                name = None
        config = json.loads(json.dumps(self.model.get_config(), default=str))
        return {"name": name, "class": f"{cls.__module__}:{cls.__qualname__}", "config": config}

    def _check_same_model(self, saved: Mapping[str, Any], where: str) -> None:
        """Raise :class:`RunDirectoryError` naming the first model key that differs from ``saved``."""
        current = self._model_identity()
        hint = "resume with the same model, or start a new run (overwrite=True / --overwrite)"
        if saved.get("class") and saved["class"] != current["class"]:
            raise RunDirectoryError(
                f"cannot resume: {where} holds a {saved['class']} model, this run trains a "
                f"{current['class']}; {hint}",
                "model",
            )
        old_cfg, new_cfg = _comparable(saved.get("config") or {}), _comparable(current["config"])
        # Plain options first: a changed ``hidden`` also changes the network records built from it.
        for key in sorted(set(old_cfg) | set(new_cfg), key=lambda k: (isinstance(new_cfg.get(k), dict), k)):
            if old_cfg.get(key, "<unset>") != new_cfg.get(key, "<unset>"):
                raise RunDirectoryError(
                    f"cannot resume: model config key {key!r} is {old_cfg.get(key, '<unset>')!r} in {where} "
                    f"but {new_cfg.get(key, '<unset>')!r} in this run; {hint}",
                    f"model.config.{key}",
                )

    def _run_file(self) -> Path:
        assert self.out_dir is not None
        return self.out_dir / RUN_FILE

    def _read_run_file(self) -> dict[str, Any] | None:
        path = self._run_file()
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) and same_format(doc.get("format"), RUN_FORMAT) else None

    def previous_run(self) -> str | None:
        """Describe the run already in ``out_dir`` (checkpoints, metrics, samples, model), or None."""
        if self.out_dir is None or not self.out_dir.is_dir():
            return None
        found = []
        assert self.checkpoint_dir is not None
        ckpts = ckpt.list_checkpoints(self.checkpoint_dir)
        if ckpts:
            found.append(f"{len(ckpts)} checkpoint(s) up to step {ckpts[-1][0]}")
        jsonl = self.out_dir / "metrics.jsonl"
        if jsonl.is_file():
            with jsonl.open("rb") as fh:
                rows = sum(1 for line in fh if line.strip())
            if rows:
                found.append(f"{rows} metrics row(s) in metrics.jsonl")
        samples = self.out_dir / "samples"
        if samples.is_dir() and any(samples.iterdir()):
            found.append("sample grids")
        if (self.out_dir / "model").is_dir():
            found.append("a saved model")
        return ", ".join(found) or None

    def _remove_previous_run(self) -> None:
        """Move the previous run's entries into a hidden trash directory, then delete it."""
        assert self.out_dir is not None
        trash = self.out_dir / f"{_TRASH_PREFIX}{uuid.uuid4().hex[:8]}"
        trash.mkdir()
        names = {e.name for e in self.out_dir.iterdir()}
        for entry in RUN_ENTRIES:
            # the entry itself and its hidden siblings (temporaries, ".model.old" of a half save)
            for name in sorted(n for n in names if n == entry or n.startswith(f".{entry}.")):
                os.rename(self.out_dir / name, trash / name)
        from aigc_sdk.io import fsync_dir

        fsync_dir(self.out_dir)
        shutil.rmtree(trash, ignore_errors=True)

    def _claim_out_dir(self, resume_path: Path | None) -> None:
        """Check that this run may use ``out_dir`` (before anything is written to it)."""
        assert self.out_dir is not None and self.checkpoint_dir is not None
        if self._owns_out_dir:
            return
        if self.dist.is_main and self.out_dir.is_dir():
            for entry in self.out_dir.iterdir():
                if entry.name.startswith(_TRASH_PREFIX):  # an overwrite killed mid-delete
                    shutil.rmtree(entry, ignore_errors=True)
        fresh = self.resume is False or self.resume is None
        previous = self.previous_run()
        if fresh:
            if previous is not None and not self.overwrite:
                raise RunDirectoryError(
                    f"out_dir {str(self.out_dir)!r} already holds a training run ({previous}); "
                    + _OWNERSHIP_HINT,
                    "out_dir",
                )
            if self.overwrite and self.dist.is_main and self.out_dir.is_dir():
                self._remove_previous_run()
            elif self.dist.is_main and self._run_file().exists():
                self._run_file().unlink()  # a run that wrote nothing: nothing to keep
            return
        run = self._read_run_file()
        if resume_path is not None and resume_path.resolve().parent != self.checkpoint_dir.resolve():
            if previous is not None:  # continuing another directory's checkpoint here would splice logs
                raise RunDirectoryError(
                    f"out_dir {str(self.out_dir)!r} already holds a training run ({previous}); resuming "
                    f"from {resume_path}, a checkpoint of another directory, would mix the two: use an "
                    "empty out_dir, or resume=True to continue the run in out_dir",
                    "out_dir",
                )
            run = None
        elif resume_path is not None:
            at = self._path_step(resume_path)
            later = [s for s, _ in ckpt.list_checkpoints(self.checkpoint_dir) if s > at]
            if later:
                raise RunDirectoryError(
                    f"cannot resume from {resume_path}: out_dir {str(self.out_dir)!r} holds later "
                    f"checkpoints of the same run (up to step {later[-1]}), whose logs would be spliced "
                    "with the new ones; resume=True continues from the newest, or resume from it into an "
                    "empty out_dir",
                    "resume",
                )
        if run is not None:
            for key in ("seed", "batch_size"):
                if key in run and run[key] != getattr(self, key):
                    flag = "--" + key.replace("_", "-")
                    raise RunDirectoryError(
                        f"cannot resume: {key}={getattr(self, key)} differs from the {key} {run[key]} of the "
                        f"run in {str(self.out_dir)!r} (see {RUN_FILE}); pass {key}={run[key]} "
                        f"(CLI {flag} {run[key]}) to continue it",
                        key,
                    )
            if isinstance(run.get("model"), dict):
                self._check_same_model(run["model"], f"{self._run_file()}")

    @staticmethod
    def _path_step(path: Path) -> int:
        try:
            return int(json.loads((path / ckpt.STATE_FILE).read_text(encoding="utf-8"))["step"])
        except (OSError, ValueError, KeyError, TypeError):
            return -1

    def _write_run_file(self, resumed: bool) -> None:
        """Record (or, on resume, update) ``out_dir/run.json``, atomically."""
        from aigc_sdk.io import write_json

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        doc = (self._read_run_file() if resumed else None) or {
            "format": RUN_FORMAT,
            "format_version": RUN_FORMAT_VERSION,
            "created": now,
            "model": self._model_identity(),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "world_size": self.dist.world_size,
            "resumes": [],
        }
        if resumed:
            doc.setdefault("resumes", []).append({"time": now, "step": self.step})
        doc["steps"] = self.steps
        write_json(self._run_file(), doc)

    def _resume_path(self) -> Path | None:
        if self.resume is False or self.resume is None:
            return None
        if self.resume is True:
            return ckpt.latest_checkpoint(self.checkpoint_dir) if self.checkpoint_dir else None
        path = Path(self.resume)
        if not (path / ckpt.STATE_FILE).is_file():
            raise FileNotFoundError(
                f"resume={str(path)!r} is not a checkpoint directory ({ckpt.STATE_FILE} missing)"
            )
        return path
