"""The Trainer: runs ``model.training_step`` for a number of steps with seeding, exact resume,
atomic checkpoints, logging, sample grids, divergence detection and data parallelism.

Exact resume works because every source of randomness is either checkpointed (torch, CUDA,
NumPy and Python RNG states; optimizer state) or a pure function of ``(seed, step)`` (the
data order: each epoch's permutation comes from ``numpy.random.default_rng([seed, epoch])``).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

from aigc_sdk.errors import AigcError
from aigc_sdk.interfaces import DatasetProvider, GenerativeModel
from aigc_sdk.training import checkpoint as ckpt
from aigc_sdk.training.callbacks import MetricsLogger
from aigc_sdk.training.distributed import DistInfo, ManagedOptimizer, broadcast_module, init_from_env
from aigc_sdk.training.rng import capture_rng_state, restore_rng_state, seed_everything, set_deterministic

PRECISIONS = ("fp32", "bf16")


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


def select_device(device: str | torch.device = "auto", local_rank: int = 0) -> torch.device:
    """Resolve ``"auto"`` to CUDA (this rank's GPU), then Apple MPS, then CPU."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto' or a torch device string, got {device!r}")
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _as_dataset(data: Any) -> tuple[Dataset[Any], int | None]:
    """Accept a DatasetProvider, Dataset, DataLoader or tensor; return (dataset, loader batch size)."""
    if isinstance(data, DatasetProvider):
        return data.load("train"), None
    if isinstance(data, DataLoader):
        return data.dataset, data.batch_size
    if isinstance(data, torch.Tensor):
        return TensorDataset(data), None
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        return data, None
    raise ValueError(
        "data must be a DatasetProvider, a map-style Dataset with __len__, a DataLoader or a tensor, "
        f"got {type(data).__name__}"
    )


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{name} must be an int >= {minimum}{' or None' if allow_none else ''}, got {value!r}"
        )


class Trainer:
    """Train a :class:`~aigc_sdk.interfaces.GenerativeModel`.

    Args:
        model: the model; its ``configure_optimizers()`` and ``training_step()`` drive training.
        data: a DatasetProvider (its train split), a Dataset, a DataLoader (only its dataset and
            batch size are used: the Trainer owns the data order so it can resume exactly) or a tensor.
        steps: total number of optimisation steps (a resumed run continues up to it).
        batch_size: global batch size (split evenly across data-parallel ranks).
        out_dir: where checkpoints, metrics and sample grids go (None: nothing is written).
        seed: seeds every RNG and the data order.
        deterministic: request deterministic kernels (bitwise reproducible on CPU).
        device: ``"auto"`` (CUDA > MPS > CPU) or a device string.
        precision: ``"fp32"`` or ``"bf16"`` (autocast).
        grad_clip: clip each optimizer's gradient norm to this value.
        callbacks: objects with lifecycle methods (see :mod:`aigc_sdk.hookspecs`).
        checkpoint_every: write a checkpoint every N steps (and always at the end when ``out_dir``).
        keep_last: keep only the newest K checkpoints.
        sample_every: write a PNG grid of samples every N steps (image models only).
        log_every: append metrics every N steps.
        resume: ``True`` resumes from the newest checkpoint in ``out_dir`` (when there is one);
            a path resumes from that checkpoint.
        progress: show a tqdm bar; ``None`` shows it only when stderr is a terminal.
        divergence_threshold: stop when any metric's absolute value exceeds this (NaN/inf always stop).
    """

    def __init__(
        self,
        model: GenerativeModel,
        data: Any,
        *,
        steps: int,
        batch_size: int | None = None,
        out_dir: str | Path | None = None,
        seed: int = 0,
        deterministic: bool = False,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        grad_clip: float | None = None,
        callbacks: Sequence[Any] = (),
        checkpoint_every: int | None = None,
        keep_last: int | None = 3,
        sample_every: int | None = None,
        sample_count: int = 64,
        log_every: int = 1,
        resume: bool | str | Path = False,
        progress: bool | None = None,
        divergence_threshold: float | None = 1e8,
        model_name: str | None = None,
    ) -> None:
        if not isinstance(model, GenerativeModel):
            raise ValueError(f"model must be a GenerativeModel, got {type(model).__name__}")
        _check_int("steps", steps, 0)
        _check_int("seed", seed, 0)
        _check_int("checkpoint_every", checkpoint_every, 1, allow_none=True)
        _check_int("keep_last", keep_last, 1, allow_none=True)
        _check_int("sample_every", sample_every, 1, allow_none=True)
        _check_int("sample_count", sample_count, 1)
        _check_int("log_every", log_every, 1)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if grad_clip is not None and (
            isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or grad_clip <= 0
        ):
            raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
        if out_dir is None and (checkpoint_every or sample_every or resume):
            raise ValueError("out_dir is required for checkpoint_every, sample_every or resume")
        self.dataset, loader_bs = _as_dataset(data)
        batch_size = batch_size if batch_size is not None else (loader_bs or 64)
        _check_int("batch_size", batch_size, 1)
        self.model, self.steps, self.batch_size, self.seed = model, steps, batch_size, seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.deterministic, self.precision, self.grad_clip = deterministic, precision, grad_clip
        self.checkpoint_every, self.keep_last = checkpoint_every, keep_last
        self.sample_every, self.sample_count = sample_every, sample_count
        self.resume, self.progress, self.divergence_threshold = resume, progress, divergence_threshold
        self.model_name = model_name
        self.user_callbacks = list(callbacks)
        self.step = 0
        self.last_metrics: dict[str, float] = {}
        self.last_checkpoint: Path | None = None
        self.n = len(self.dataset)  # type: ignore[arg-type]
        self._requested_device = device
        self.device = torch.device("cpu")
        self.dist = DistInfo()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.wall_time = 0.0

    # ------------------------------------------------------------------ data order
    def steps_per_epoch(self) -> int:
        """Number of full global batches per epoch (the last partial batch is dropped)."""
        return self.n // self.batch_size

    def batch_indices(self, step: int) -> torch.Tensor:
        """Indices of this rank's share of the global batch at ``step`` (a pure function of seed/step)."""
        spe = self.steps_per_epoch()
        epoch, pos = divmod(step, spe)
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        idx = perm[pos * self.batch_size : (pos + 1) * self.batch_size]
        local = self.batch_size // self.dist.world_size
        idx = idx[self.dist.rank * local : (self.dist.rank + 1) * local]
        return torch.from_numpy(idx)

    def _batch(self, step: int) -> tuple[torch.Tensor, ...]:
        idx = self.batch_indices(step)
        if isinstance(self.dataset, TensorDataset):
            batch = tuple(t[idx] for t in self.dataset.tensors)
        else:
            batch = default_collate([self.dataset[int(i)] for i in idx])
            batch = tuple(batch) if isinstance(batch, (list, tuple)) else (batch,)
        return tuple(
            t.to(self.device, non_blocking=True) if isinstance(t, torch.Tensor) else t for t in batch
        )

    # ------------------------------------------------------------------ hooks
    def _emit(self, hook: str, **kwargs: Any) -> None:
        from aigc_sdk.registry import call_lifecycle_hook

        for cb in [*self._internal_callbacks, *self.user_callbacks]:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(trainer=self, model=self.model, **kwargs)
        call_lifecycle_hook(hook, trainer=self, model=self.model, **kwargs)

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path | None:
        """``<out_dir>/checkpoints`` (None without ``out_dir``)."""
        return self.out_dir / "checkpoints" if self.out_dir is not None else None

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0 only) and return its path."""
        if self.checkpoint_dir is None or not self.dist.is_main:
            return None
        for p in self.model.parameters():
            if not torch.isfinite(p).all():  # never replace a good checkpoint by a broken one
                raise TrainingDivergedError(
                    f"refusing to checkpoint step {self.step}: parameters are not finite; "
                    f"last good checkpoint: {self.last_checkpoint}",
                    self.step,
                    self.last_metrics,
                    self.last_checkpoint,
                )
        rng_tensors, rng_meta = capture_rng_state()
        state = {
            "seed": self.seed,
            "batch_size": self.batch_size,
            "world_size": self.dist.world_size,
            "rng": rng_meta,
            "metrics": self.last_metrics,
            "total_steps": self.steps,
        }
        path = ckpt.save_checkpoint(
            self.checkpoint_dir,
            self.step,
            self.model,
            self.optimizers,
            state,
            rng_tensors,
            keep_last=self.keep_last,
            model_name=self.model_name,
        )
        self.last_checkpoint = path
        self._emit("on_checkpoint_saved", step=self.step, path=str(path))
        return path

    def _restore(self, path: Path) -> None:
        model_state, tensors, state = ckpt.load_checkpoint(path)
        if int(state["batch_size"]) != self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} differs from the checkpoint's {state['batch_size']}; "
                "exact resume needs the same global batch size"
            )
        self.seed = int(state["seed"])
        self.model.load_state_dict(model_state)
        for name, opt in self.optimizers.items():
            if name not in state["optimizers"]:
                raise ValueError(f"checkpoint {path} has no state for optimizer {name!r}")
            opt.load_state_dict(ckpt.unflatten_optimizer_state(state["optimizers"][name], tensors))
        # Each rank restores rank 0's RNG then re-offsets it, as at a fresh start.
        restore_rng_state(tensors, state["rng"])
        if self.dist.rank:
            torch.manual_seed(int(torch.randint(0, 2**62, (1,))) + self.dist.rank)
        self.step = int(state["step"])
        self.last_metrics = dict(state.get("metrics") or {})
        self.last_checkpoint = path

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

    # ------------------------------------------------------------------ samples
    def save_samples(self) -> Path | None:
        """Write a PNG grid of ``sample_count`` samples from a fixed seed (image models only)."""
        if self.out_dir is None or not self.dist.is_main:
            return None
        from aigc_sdk.io import save_image_grid

        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        imgs = self.model.sample(self.sample_count, generator=gen)
        if imgs.ndim != 4 or imgs.shape[1] not in (1, 3):
            return None
        return save_image_grid(imgs, self.out_dir / "samples" / f"step-{self.step:08d}.png")

    # ------------------------------------------------------------------ main loop
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _diverged(self, metrics: Mapping[str, float]) -> str | None:
        for k, v in metrics.items():
            v = float(v)
            if not math.isfinite(v):
                return f"{k}={v}"
            if self.divergence_threshold is not None and abs(v) > self.divergence_threshold:
                return f"|{k}|={abs(v):.3g} > divergence_threshold={self.divergence_threshold:g}"
        return None

    def _setup(self) -> None:
        dev = select_device(self._requested_device)
        self.dist = init_from_env(dev)
        self.device = select_device(self._requested_device, self.dist.local_rank)
        if self.batch_size % self.dist.world_size:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by the {self.dist.world_size} ranks"
            )
        if self.steps_per_epoch() < 1:
            raise ValueError(f"batch_size={self.batch_size} is larger than the data set ({self.n} samples)")
        set_deterministic(self.deterministic)
        seed_everything(self.seed + self.dist.rank)
        self.model.to(self.device)
        self.model.train()
        if self.dist.enabled:
            broadcast_module(self.model)
        self.optimizers = self.model.configure_optimizers()
        if not isinstance(self.optimizers, Mapping) or not self.optimizers:
            raise ValueError("configure_optimizers() must return a non-empty dict of optimizers")
        self._internal_callbacks: list[Any] = []
        if self.out_dir is not None and self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            assert self.checkpoint_dir is not None
            ckpt.clean_stale(self.checkpoint_dir)
            self._internal_callbacks.append(MetricsLogger(self.out_dir, every=1))
        path = self._resume_path()
        if path is not None:
            self._restore(path)

    def _progress(self) -> Any:
        from tqdm.auto import tqdm

        show = self.progress if self.progress is not None else sys.stderr.isatty()
        return tqdm(
            total=self.steps,
            initial=self.step,
            disable=not (show and self.dist.is_main),
            desc=type(self.model).__name__,
            dynamic_ncols=True,
            leave=False,
        )

    def fit(self) -> dict[str, float]:
        """Train up to ``steps`` steps; return the last metrics plus timing.

        Raises :class:`TrainingDivergedError` (after ``on_fit_end``) when a metric is NaN/inf
        or explodes; the newest checkpoint on disk is then the last good one.
        """
        self._setup()
        self._emit("on_fit_start")
        managed = {
            k: ManagedOptimizer(o, world_size=self.dist.world_size, grad_clip=self.grad_clip)
            for k, o in self.optimizers.items()
        }
        start_step, t0 = self.step, time.perf_counter()
        bar = self._progress()
        try:
            while self.step < self.steps:
                batch = self._batch(self.step)
                with self._autocast():
                    metrics = self.model.training_step(batch, managed, self.step)  # type: ignore[arg-type]
                metrics = {k: float(v) for k, v in metrics.items()}
                for k, m in managed.items():
                    if m.last_grad_norm is not None:
                        metrics[f"grad_norm_{k}"] = m.last_grad_norm
                reason = self._diverged(metrics)
                if reason is not None:
                    self.last_metrics = metrics
                    msg = f"training diverged at step {self.step + 1} ({reason}); stopped. " + (
                        f"The last good checkpoint is {self.last_checkpoint}; resume from it with a lower "
                        "learning rate or gradient clipping."
                        if self.last_checkpoint
                        else "No checkpoint was written before it."
                    )
                    self._emit("on_fit_end", metrics=metrics)
                    raise TrainingDivergedError(msg, self.step + 1, metrics, self.last_checkpoint)
                self.step += 1
                self.last_metrics = metrics
                self._emit("on_train_step_end", step=self.step, metrics=metrics)
                bar.update(1)
                if self.step % 25 == 0:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(metrics.items())[:4]}, refresh=False)
                if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.sample_every and self.step % self.sample_every == 0:
                    self.save_samples()
            self.wall_time = time.perf_counter() - t0
            if self.out_dir is not None and (
                self.last_checkpoint is None or not self.last_checkpoint.name.endswith(f"{self.step:08d}")
            ):
                self.save_checkpoint()
            if self.sample_every and self.step % self.sample_every:
                self.save_samples()
        finally:
            bar.close()
        done = self.step - start_step
        out = {
            **self.last_metrics,
            "steps": float(self.step),
            "wall_time_s": self.wall_time,
            "steps_per_s": done / self.wall_time if self.wall_time > 0 else 0.0,
        }
        self._emit("on_fit_end", metrics=out)
        return out
