"""A Trainer callback that measures sample quality during training and raises a collapse alarm.

Every ``every`` steps :class:`QualityMonitor` draws ``n`` samples from the model (sampling
only: no training step, a fixed seed, class-balanced labels for conditional models, the
global RNG and the modules' train/eval modes left as they were, so training itself is
unchanged), embeds them with a registered feature extractor and scores them against a fixed
held-out real sample whose features were computed once at the start: precision/recall and
density/coverage by default, and FID from the same features.

Each evaluation is appended to ``<out_dir>/quality.jsonl`` (the whole file is rewritten
atomically, so a reader never sees a torn line) and to :attr:`QualityMonitor.history`. With
``best_by`` the model is saved to ``<out_dir>/best/`` (``aigc_sdk.io.save_model``, atomic)
whenever that value improves, and its record to ``<out_dir>/best.json`` (written after the
model). With ``min_recall`` a recall below it warns, or with
``stop_below=True`` stops training with :class:`QualityCollapseError`.

The core imports no plugin: extractors and evaluators come from the registry.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from aigc_sdk.errors import AigcError
from aigc_sdk.io import atomic_write_text, save_model, write_json
from aigc_sdk.training.callbacks import Callback
from aigc_sdk.validation import check_int

log = logging.getLogger("aigc_sdk.training.quality")

QUALITY_FILE = "quality.jsonl"
BEST_DIR = "best"
BEST_RECORD = "best.json"


class QualityCollapseError(AigcError, RuntimeError):
    """Recall fell below ``min_recall`` with ``stop_below=True``; training was stopped.

    ``step`` is the step measured, ``metrics`` its quality metrics and ``best_dir`` the saved
    best model (None when none was saved).
    """

    def __init__(self, message: str, step: int, metrics: Mapping[str, float], best_dir: Path | None) -> None:
        super().__init__(message)
        self.step, self.metrics, self.best_dir = step, dict(metrics), best_dir


class QualityMonitor(Callback):
    """Measure sample quality every ``every`` steps; keep the best model; alarm on collapse.

    Args:
        dataset: registered data set name (or a DatasetProvider) the model is trained on.
        dataset_options: options for a named data set that needs them (``root=`` ...).
        every: evaluate after every ``every`` optimisation steps (and at the end of a run
            that completes, when its last step was not evaluated).
        n: real and generated samples per evaluation (the real side is capped by the size
            of ``real_split``). P/R/D/C need more than their k (5) on each side.
        metrics: registered evaluators whose inputs are features (``"prc"``, ``"dc"``,
            ``"prdc"``, ``"fid"``, ``"kid"``, ``"swd"``). Default ``("prc", "dc", "fid")``.
        extractor: registered feature extractor (``"classifier"``: trained on the data set's
            train split; ``"random-conv"``, ``"raw"``).
        best_by: a value the metrics produce (``"recall"``, ``"precision"``, ``"density"``,
            ``"coverage"``, ``"fid"``, ...) to keep the best model by (its direction comes from
            the evaluator), or None to save nothing.
        min_recall: warn (``RuntimeWarning`` + log) when recall is below this, in [0, 1];
            needs ``"prc"`` or ``"prdc"`` in ``metrics``.
        stop_below: raise :class:`QualityCollapseError` instead of warning.
        seed: seeds the held-out subset, the samples and their labels (fixed for the run).
        real_split: the held-out split the real side comes from (``"test"``).
        batch_size: sampling and feature-extraction batch size.

    Attributes:
        history: one dict per evaluation (``step``, the metric values, ``n_real``, ``n_fake``,
            ``extractor``, ``seconds``, ``best``, ``warnings``).
        best: the best record so far (None before the first evaluation or without ``best_by``).
        best_dir: ``<out_dir>/best`` once a best model has been saved.

    Runs on the main rank only. A resumed run keeps the records up to the resumed step
    and continues the best-model tracking from them.
    """

    def __init__(
        self,
        dataset: Any,
        *,
        every: int = 500,
        n: int = 1000,
        metrics: Sequence[str] = ("prc", "dc", "fid"),
        extractor: str = "classifier",
        best_by: str | None = "recall",
        min_recall: float | None = None,
        stop_below: bool = False,
        seed: int = 0,
        real_split: str = "test",
        batch_size: int = 500,
        dataset_options: Mapping[str, Any] | None = None,
    ) -> None:
        import aigc_sdk
        from aigc_sdk.registry import default_registry

        self.every = check_int("every", every)
        self.n = check_int("n", n)
        if self.n < 6:
            raise ValueError(f"n must be at least 6 (k-NN metrics need more than k=5 samples), got {n!r}")
        self.batch_size = check_int("batch_size", batch_size)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed, self.real_split, self.extractor_spec = seed, real_split, extractor
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        if not names:
            raise ValueError("metrics must name at least one evaluator, got an empty sequence")
        reg = default_registry()
        feature_names = [
            m
            for m in reg.list_names("evaluator")
            if reg.get("evaluator", m).metadata.get("inputs") == "features"
        ]
        for m in names:
            if m not in feature_names:
                raise ValueError(
                    f"metrics must be feature evaluators, one of {sorted(feature_names)}; got {m!r}"
                )
        self.metrics = tuple(names)
        # Evaluators without an extractor are cheap to build; they tell us keys and directions.
        self.directions: dict[str, bool] = {}
        for m in self.metrics:
            self.directions.update(dict(aigc_sdk.get_evaluator(m).higher_is_better))
        if best_by is not None and best_by not in self.directions:
            raise ValueError(
                f"best_by must be None or one of {sorted(self.directions)} (the values of metrics="
                f"{self.metrics}), got {best_by!r}"
            )
        if min_recall is not None:
            if isinstance(min_recall, bool) or not isinstance(min_recall, (int, float)):
                raise ValueError(f"min_recall must be a number in [0, 1] or None, got {min_recall!r}")
            if not 0.0 <= float(min_recall) <= 1.0:
                raise ValueError(f"min_recall must be in [0, 1] or None, got {min_recall!r}")
            if "recall" not in self.directions:
                raise ValueError(
                    f"min_recall needs a recall: add 'prc' or 'prdc' to metrics (got {self.metrics})"
                )
        if stop_below and min_recall is None:
            raise ValueError("stop_below=True needs min_recall=<number in [0, 1]>")
        self.best_by, self.min_recall, self.stop_below = best_by, min_recall, bool(stop_below)
        self.dataset = dataset
        self.dataset_options = dict(dataset_options or {})
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.best_dir: Path | None = None
        self._extractor: Any = None
        self._real: Any = None
        self._path: Path | None = None
        self._last_step: int | None = None
        self._active = False

    # ------------------------------------------------------------------ set-up
    def _provider(self) -> Any:
        import aigc_sdk
        from aigc_sdk.interfaces import DatasetProvider

        if isinstance(self.dataset, DatasetProvider):
            return self.dataset
        if not isinstance(self.dataset, str):
            raise ValueError(f"dataset must be a data set name or a DatasetProvider, got {self.dataset!r}")
        return aigc_sdk.load_dataset(self.dataset, **self.dataset_options)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            parts = [
                self._extractor(x[i : i + self.batch_size]) for i in range(0, x.shape[0], self.batch_size)
            ]
        return torch.cat(parts).double().cpu()

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        """Embed the fixed held-out real sample once; on resume, reload the records."""
        import aigc_sdk

        dist = getattr(trainer, "dist", None)
        self._active = dist is None or bool(getattr(dist, "is_main", True))
        if not self._active:
            return
        provider = self._provider()
        # With options the name alone cannot rebuild the data set: hand the extractor the provider.
        source = provider if self.dataset_options else self.dataset
        self._extractor = aigc_sdk.get_feature_extractor(self.extractor_spec, dataset=source)
        self.sample_shape = tuple(provider.sample_shape)
        from aigc_sdk.interfaces import split_tensors

        real = provider.load(self.real_split)
        g = torch.Generator().manual_seed(self.seed)
        x = split_tensors(real, torch.randperm(len(real), generator=g)[: self.n])[0]
        if x.shape[0] < 6:
            raise ValueError(
                f"real_split {self.real_split!r} has {x.shape[0]} samples; QualityMonitor needs >= 6"
            )
        self._real = self._embed(x.float())
        out_dir = getattr(trainer, "out_dir", None)
        self._path = Path(out_dir) / QUALITY_FILE if out_dir is not None else None
        self.history, self.best, self.best_dir = [], None, None
        self._last_step = None
        start = int(getattr(trainer, "step", 0))
        if out_dir is not None and self._path is not None and self._path.exists():
            for line in self._path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    if int(rec["step"]) <= start:
                        self.history.append(rec)
                except (ValueError, KeyError, TypeError):
                    continue  # a torn or foreign line
            self._write()
            for rec in self.history:
                if self._improves(rec):
                    self.best = rec
            self.best_dir = self._saved_best(Path(out_dir))
        if self.history:
            self._last_step = int(self.history[-1]["step"])

    def _saved_best(self, out_dir: Path) -> Path | None:
        """``out_dir/best`` when it holds the model of the best kept record (not one from past
        the resumed step, written by a run that died before its next checkpoint)."""
        if self.best is None or not (out_dir / BEST_DIR).is_dir():
            return None
        try:
            saved = json.loads((out_dir / BEST_RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ok = isinstance(saved, dict) and saved.get("step") == self.best["step"]
        return out_dir / BEST_DIR if ok else None

    # ------------------------------------------------------------------ measuring
    def _improves(self, rec: Mapping[str, Any]) -> bool:
        if self.best_by is None:
            return False
        value = rec.get(self.best_by)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        old = float(self.best[self.best_by])
        return value > old if self.directions[self.best_by] else value < old

    def measure(self, model: Any) -> dict[str, float]:
        """Sample ``n`` from ``model`` and score them against the held-out features."""
        import aigc_sdk
        from aigc_sdk.evaluation import sample_model

        if self._real is None:
            raise ValueError("QualityMonitor.measure() needs on_fit_start() first (the real features)")
        with torch.random.fork_rng(devices=_cuda_devices(model)):
            fake, _ = sample_model(
                model, self.n, seed=self.seed, batch_size=self.batch_size, sample_shape=self.sample_shape
            )
        feats = self._embed(fake)
        values: dict[str, float] = {}
        for name in self.metrics:
            ev = aigc_sdk.get_evaluator(name)
            ev.update(real=self._real, fake=feats)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # FID with n < dims: expected here
                values.update({k: float(v) for k, v in ev.compute().items()})
        return values

    def _write(self) -> None:
        if self._path is not None:
            text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in self.history)
            atomic_write_text(self._path, text)

    def _evaluate(self, trainer: Any, model: Any, step: int) -> None:
        t0 = time.perf_counter()
        record: dict[str, Any] = {"step": step}
        try:
            values = self.measure(model)
        except ValueError as exc:  # e.g. the model generated NaN: record it, keep training
            record.update({"error": str(exc), "seconds": time.perf_counter() - t0})
            self.history.append(record)
            self._write()
            self._last_step = step
            warnings.warn(f"QualityMonitor at step {step}: {exc}", RuntimeWarning, stacklevel=3)
            return
        from aigc_sdk.evaluation import quality_warnings

        record.update(values)
        record.update(
            {
                "n_real": int(self._real.shape[0]),
                "n_fake": self.n,
                "extractor": str(getattr(self._extractor, "name", self.extractor_spec)),
                "seconds": time.perf_counter() - t0,
            }
        )
        record["warnings"] = quality_warnings(values)
        record["best"] = self._improves(record)
        if record["best"]:
            self.best = record
            self._save_best(trainer, model, record)
        self.history.append(record)
        self._write()
        self._last_step = step
        log.info("quality at step %d: %s", step, {k: round(v, 4) for k, v in values.items()})
        self._check_recall(step, values)

    def _save_best(self, trainer: Any, model: Any, record: Mapping[str, Any]) -> None:
        out_dir = getattr(trainer, "out_dir", None)
        if out_dir is None:
            return
        best = Path(out_dir) / BEST_DIR
        try:
            save_model(model, best, name=getattr(trainer, "model_name", None))
        except ValueError as exc:  # e.g. an unregistered model class without model_name
            warnings.warn(
                f"QualityMonitor could not save the best model: {exc}", RuntimeWarning, stacklevel=4
            )
            return
        # After the model: best.json names the step whose model best/ holds.
        write_json(Path(out_dir) / BEST_RECORD, {"best_by": self.best_by, **record})
        self.best_dir = best

    def _check_recall(self, step: int, values: Mapping[str, float]) -> None:
        if self.min_recall is None:
            return
        recall = values.get("recall")
        if recall is None or not recall < self.min_recall:
            return
        msg = (
            f"recall {recall:.3f} fell below min_recall={self.min_recall:g} at step {step}: the samples "
            "cover only a small part of the held-out data (mode collapse)"
            + (f"; the best model so far is in {self.best_dir}" if self.best_dir else "")
        )
        if self.stop_below:
            raise QualityCollapseError(
                msg + "; training stopped (stop_below=True)", step, values, self.best_dir
            )
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ hooks
    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Mapping[str, float]) -> None:
        """Evaluate when ``step`` (the number of steps done) is a multiple of ``every``."""
        if self._active and step % self.every == 0:
            self._evaluate(trainer, model, step)

    def on_fit_end(self, trainer: Any, model: Any, metrics: Mapping[str, float]) -> None:
        """Evaluate the final model of a completed run when its last step was not evaluated."""
        step = int(getattr(trainer, "step", 0))
        total = getattr(trainer, "steps", None)
        completed = total is not None and step >= int(total)
        if self._active and completed and step > 0 and self._last_step != step:
            self._evaluate(trainer, model, step)


def _cuda_devices(model: Any) -> list[int]:
    """CUDA device indices of the model's parameters (whose RNG fork_rng should save)."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return []
    return sorted({p.device.index or 0 for p in params() if p.device.type == "cuda"})


__all__ = ["QualityCollapseError", "QualityMonitor"]
