"""The Trainer: runs ``model.training_step`` for a number of steps with seeding, exact resume,
atomic checkpoints, logging, sample grids, divergence detection and data parallelism.

Exact resume works because every source of randomness is either checkpointed (torch, CUDA,
NumPy and Python RNG states; optimizer state) or a pure function of ``(seed, step)`` (the
data order: each epoch's permutation comes from ``numpy.random.default_rng([seed, epoch])``).

An ``out_dir`` belongs to one run, recorded in ``out_dir/run.json``: a fresh run refuses a
directory holding another run's checkpoints, metrics, samples or saved model (unless
``overwrite=True``), and a resume refuses a checkpoint whose model, seed or batch size differ
(see :mod:`aigc_sdk.training.run_dir`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

import aigc_sdk.training.checkpoint as ckpt
from aigc_sdk.interfaces import DatasetProvider, GenerativeModel
from aigc_sdk.training.callbacks import MetricsLogger
from aigc_sdk.training.distributed import (
    DATA_PARALLEL_MODES,
    DistInfo,
    ManagedOptimizer,
    WrappedNetwork,
    broadcast_module,
    init_from_env,
    plain_networks,
    reduce_metrics,
    unwrap_networks,
    wrap_networks,
)
from aigc_sdk.training.divergence import TrainingDivergedError as TrainingDivergedError
from aigc_sdk.training.divergence import divergence_reason
from aigc_sdk.training.rng import capture_rng_state, restore_rng_state, seed_everything, set_deterministic
from aigc_sdk.training.run_dir import RUN_ENTRIES as RUN_ENTRIES  # re-exported: callers of earlier releases
from aigc_sdk.training.run_dir import RUN_FILE as RUN_FILE
from aigc_sdk.training.run_dir import RunDirectory, RunDirectoryError
from aigc_sdk.training.schedules import check_schedule, lr_factor
from aigc_sdk.validation import check_int

PRECISIONS = ("fp32", "bf16", "fp16")


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


class Trainer(RunDirectory):
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
        precision: ``"fp32"``, ``"bf16"`` (autocast, CPU or CUDA) or ``"fp16"`` (autocast with
            dynamic loss scaling by ``torch.amp.GradScaler``; the model's training_step must
            call ``aigc_sdk.training.backward(optimizer, loss)``, as the first-party models do).
        grad_clip: clip each optimizer's gradient norm to this value.
        accumulate: split every batch into this many micro-batches and step the optimizers
            once per batch with their mean gradient (same result as one big batch for models
            without batch statistics, at a fraction of the memory). ``batch_size`` stays the
            effective batch and must be divisible by ``accumulate`` (times the ranks).
        lr_schedule: ``"constant"`` (default), ``"linear"`` or ``"cosine"`` decay of every
            optimizer's learning rate over ``steps`` (to ``min_lr_ratio`` of it), after a linear
            warm-up of ``warmup_steps``; a pure function of the step, so resume stays exact.
        warmup_steps: linear learning-rate warm-up steps.
        min_lr_ratio: the final learning rate as a fraction of the initial one.
        num_workers: DataLoader worker processes that load and collate batches (0: in the main
            process). The data order is unchanged (a function of seed and step), so resume is
            exact with any number of workers.
        pin_memory: pin batches in page-locked memory (default: when training on CUDA with workers).
        prefetch_factor: batches each worker loads ahead (default 2; needs ``num_workers``).
        compile: ``torch.compile`` each of the model's sub-networks in place (``True``, or a dict
            of ``torch.compile`` options such as ``{"mode": "max-autotune"}``).
        channels_last: keep image tensors and conv weights in channels-last memory format
            (faster convolutions on recent GPUs and on CPUs with oneDNN).
        data_parallel: with several processes (torchrun), ``"ddp"`` (default) wraps each trainable
            sub-network in DistributedDataParallel (bucketed all-reduce overlapped with backward);
            ``"allreduce"`` averages gradients in one all-reduce before each optimizer step, for
            models that call their networks through methods other than ``forward``.
        sync_batchnorm: with ``"ddp"``, use batch statistics over all ranks (SyncBatchNorm; CUDA only).
        tensorboard: also log metrics to TensorBoard under ``out_dir/tensorboard`` (needs
            ``pip install aigc-sdk[tensorboard]``).
        callbacks: objects with lifecycle methods (see :mod:`aigc_sdk.hookspecs`).
        checkpoint_every: write a checkpoint every N steps (and always at the end when ``out_dir``).
        keep_last: keep only the newest K checkpoints.
        sample_every: write a PNG grid of samples every N steps (image models only).
        log_every: write a metrics row every N steps (and always at the last step).
        resume: ``True`` resumes from the newest checkpoint in ``out_dir`` (when there is one);
            a path resumes from that checkpoint. The model config, seed and batch size must be
            those of the saved run (:class:`RunDirectoryError` names the key that differs).
        overwrite: a fresh run into an ``out_dir`` that holds another run's checkpoints,
            metrics, samples or saved model raises :class:`RunDirectoryError` unless this is
            True; then that run's files (:data:`RUN_ENTRIES`) are moved aside and deleted before
            training starts. Other files in ``out_dir`` are left alone. Excludes ``resume``.
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
        overwrite: bool = False,
        accumulate: int = 1,
        lr_schedule: str = "constant",
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        prefetch_factor: int | None = None,
        compile: bool | Mapping[str, Any] = False,
        channels_last: bool = False,
        tensorboard: bool = False,
        data_parallel: str = "ddp",
        sync_batchnorm: bool = False,
    ) -> None:
        if not isinstance(model, GenerativeModel):
            raise ValueError(f"model must be a GenerativeModel, got {type(model).__name__}")
        check_int("steps", steps, minimum=0)
        check_int("seed", seed, minimum=0)
        check_int("checkpoint_every", checkpoint_every, minimum=1, allow_none=True)
        check_int("keep_last", keep_last, minimum=1, allow_none=True)
        check_int("sample_every", sample_every, minimum=1, allow_none=True)
        check_int("sample_count", sample_count, minimum=1)
        check_int("log_every", log_every, minimum=1)
        check_int("accumulate", accumulate, minimum=1)
        check_int("num_workers", num_workers, minimum=0)
        check_int("prefetch_factor", prefetch_factor, minimum=1, allow_none=True)
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("prefetch_factor needs num_workers >= 1")
        check_schedule(lr_schedule, warmup_steps, min_lr_ratio)
        for flag, value in (("channels_last", channels_last), ("tensorboard", tensorboard)):
            if not isinstance(value, bool):
                raise ValueError(f"{flag} must be True or False, got {value!r}")
        if data_parallel not in DATA_PARALLEL_MODES:
            raise ValueError(f"data_parallel must be one of {DATA_PARALLEL_MODES}, got {data_parallel!r}")
        if not isinstance(sync_batchnorm, bool):
            raise ValueError(f"sync_batchnorm must be True or False, got {sync_batchnorm!r}")
        if pin_memory is not None and not isinstance(pin_memory, bool):
            raise ValueError(f"pin_memory must be True, False or None, got {pin_memory!r}")
        if not isinstance(compile, (bool, Mapping)):
            raise ValueError(
                f"compile must be True, False or a dict of torch.compile options, got {compile!r}"
            )
        if tensorboard and out_dir is None:
            raise ValueError("tensorboard=True needs out_dir")
        if tensorboard:
            import importlib.util

            if importlib.util.find_spec("tensorboard") is None:
                raise ImportError(
                    "tensorboard=True (CLI --tensorboard) needs the tensorboard package: "
                    "pip install 'aigc-sdk[tensorboard]'"
                )
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if grad_clip is not None and (
            isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or grad_clip <= 0
        ):
            raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
        if out_dir is None and (checkpoint_every or sample_every or resume):
            raise ValueError("out_dir is required for checkpoint_every, sample_every or resume")
        if not isinstance(overwrite, bool):
            raise ValueError(f"overwrite must be True or False, got {overwrite!r}")
        if overwrite and resume is not False and resume is not None:
            raise ValueError(
                "resume and overwrite exclude each other: resume=True continues the run in out_dir, "
                "overwrite=True deletes it and starts over"
            )
        self.dataset, loader_bs = _as_dataset(data)
        batch_size = batch_size if batch_size is not None else (loader_bs or 64)
        check_int("batch_size", batch_size, minimum=1)
        if batch_size % accumulate:
            raise ValueError(f"batch_size={batch_size} must be divisible by accumulate={accumulate}")
        self.model, self.steps, self.batch_size, self.seed = model, steps, batch_size, seed
        self.log_every, self.accumulate = log_every, accumulate
        self.lr_schedule, self.warmup_steps, self.min_lr_ratio = lr_schedule, warmup_steps, min_lr_ratio
        self.num_workers, self.pin_memory, self.prefetch_factor = num_workers, pin_memory, prefetch_factor
        self.compile, self.channels_last, self.tensorboard = compile, channels_last, tensorboard
        self.data_parallel, self.sync_batchnorm = data_parallel, sync_batchnorm
        self._wrapped: list[WrappedNetwork] = []  # networks inside DDP during fit()
        self.scaler: torch.amp.GradScaler | None = None
        self.stop_reason: str | None = None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.deterministic, self.precision, self.grad_clip = deterministic, precision, grad_clip
        self.checkpoint_every, self.keep_last = checkpoint_every, keep_last
        self.sample_every, self.sample_count = sample_every, sample_count
        self.resume, self.progress, self.divergence_threshold = resume, progress, divergence_threshold
        self.model_name, self.overwrite = model_name, overwrite
        self._owns_out_dir = False  # set once this Trainer has claimed out_dir (a second fit() continues)
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
        self._saving = False

    # ------------------------------------------------------------------ data order
    def steps_per_epoch(self) -> int:
        """Number of full global batches per epoch (the last partial batch is dropped)."""
        return self.n // self.batch_size

    def batch_indices(self, step: int) -> torch.Tensor:
        """Indices of this rank's share of the global batch at ``step`` (a pure function of seed/step)."""
        idx = step_indices(self.n, self.batch_size, self.seed, step, self.dist.rank, self.dist.world_size)
        return torch.from_numpy(idx)

    def _gather(self, idx: torch.Tensor) -> tuple[Any, ...]:
        """Collate the samples at ``idx`` (in this process)."""
        if isinstance(self.dataset, TensorDataset):
            return tuple(t[idx] for t in self.dataset.tensors)
        batch = default_collate([self.dataset[int(i)] for i in idx])
        return tuple(batch) if isinstance(batch, (list, tuple)) else (batch,)

    def _to_device(self, batch: Sequence[Any]) -> tuple[Any, ...]:
        out = []
        for t in batch:
            if isinstance(t, torch.Tensor):
                t = t.to(self.device, non_blocking=True)
                if self.channels_last and t.ndim == 4:
                    t = t.contiguous(memory_format=torch.channels_last)
            out.append(t)
        return tuple(out)

    def _batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """This rank's batch at ``step``, gathered in this process."""
        return self._to_device(self._gather(self.batch_indices(step)))

    def _batches(self, start: int) -> Generator[tuple[Any, ...], None, None]:
        """This rank's batches from ``start`` on: gathered here, or by DataLoader workers.

        Workers get the same index lists (a function of seed and step) through a batch
        sampler, so what a step sees does not depend on ``num_workers``.
        """
        if self.num_workers == 0:
            for step in range(start, self.steps):
                yield self._batch(step)
            return
        pin = self.pin_memory if self.pin_memory is not None else self.device.type == "cuda"
        loader = DataLoader(
            self.dataset,
            batch_sampler=_StepBatches(self, start),
            num_workers=self.num_workers,
            pin_memory=pin,
            prefetch_factor=self.prefetch_factor,
            collate_fn=_collate_tuple,
        )
        for batch in loader:
            yield self._to_device(batch)

    def _micro_batches(self, batch: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Split a batch into ``accumulate`` equal micro-batches (tensors only are split)."""
        if self.accumulate == 1:
            return [batch]
        parts = [t.chunk(self.accumulate) if isinstance(t, torch.Tensor) else None for t in batch]
        return [
            tuple(p[i] if p is not None else t for p, t in zip(parts, batch, strict=True))
            for i in range(self.accumulate)
        ]

    # ------------------------------------------------------------------ hooks
    def _emit(self, hook: str, **kwargs: Any) -> None:
        from aigc_sdk.registry import call_lifecycle_hook

        for cb in [*self._internal_callbacks, *self.user_callbacks]:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(trainer=self, model=self.model, **kwargs)
        failures = call_lifecycle_hook(hook, trainer=self, model=self.model, **kwargs)
        if failures:
            self._plugin_failed(hook, failures)

    def _plugin_failed(self, hook: str, failures: Sequence[Any]) -> None:
        """An installed plugin's lifecycle hook raised: checkpoint now, so nothing is lost if
        more goes wrong, and name the plugin (it is quarantined; training goes on without it)."""
        import logging

        where = ""
        if hook in ("on_fit_start", "on_train_step_end") and self.step > 0 and not self._saving:
            done = self.last_checkpoint is not None and self.last_checkpoint.name.endswith(f"{self.step:08d}")
            path = self.last_checkpoint if done else self.save_checkpoint()
            if path is not None:
                where = f"; checkpoint of step {self.step} at {path}"
        for failure in failures:
            logging.getLogger("aigc_sdk.training").warning(
                "aigc_sdk: %s; the plugin is quarantined and training continues without it%s",
                failure.describe(),
                where,
            )

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0 only) and return its path."""
        if self.checkpoint_dir is None or not self.dist.is_main:
            return None
        self._saving = True
        try:
            return self._save_checkpoint()
        finally:
            self._saving = False

    def _save_checkpoint(self) -> Path:
        assert self.checkpoint_dir is not None
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
        if self.scaler is not None:
            state["grad_scaler"] = {k: v for k, v in self.scaler.state_dict().items() if k != "_enabled"}
        with plain_networks(self.model, self._wrapped):  # weights saved under their own names
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
            raise RunDirectoryError(
                f"cannot resume from {path}: batch_size={self.batch_size} differs from the checkpoint's "
                f"{state['batch_size']}; exact resume needs the same global batch size",
                "batch_size",
            )
        if int(state["seed"]) != self.seed:
            raise RunDirectoryError(
                f"cannot resume from {path}: seed={self.seed} differs from the checkpoint's seed "
                f"{state['seed']}; pass seed={state['seed']} (CLI --seed {state['seed']}) to continue "
                "that run",
                "seed",
            )
        from aigc_sdk.io import read_model_record

        record = read_model_record(path)
        saved = {"class": record.get("class"), "config": record["config"]}
        self._check_same_model(saved, f"the checkpoint {path}")
        self.model.load_state_dict(model_state)
        for name, opt in self.optimizers.items():
            if name not in state["optimizers"]:
                raise ValueError(f"checkpoint {path} has no state for optimizer {name!r}")
            opt.load_state_dict(ckpt.unflatten_optimizer_state(state["optimizers"][name], tensors))
        # Each rank restores rank 0's RNG then re-offsets it, as at a fresh start.
        restore_rng_state(tensors, state["rng"])
        if self.dist.rank:
            torch.manual_seed(int(torch.randint(0, 2**62, (1,))) + self.dist.rank)
        if self.scaler is not None and isinstance(state.get("grad_scaler"), dict):
            self.scaler.load_state_dict({**self.scaler.state_dict(), **state["grad_scaler"]})
        self.step = int(state["step"])
        self.last_metrics = dict(state.get("metrics") or {})
        self.last_checkpoint = path

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
        if self.precision == "fp16":
            return torch.autocast(device_type=self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def request_stop(self, reason: str) -> None:
        """Stop after the current step (callbacks such as EarlyStopping call this); the run
        ends normally: a final checkpoint, ``on_fit_end``, and ``stop_reason`` set."""
        self.stop_reason = reason

    def _apply_lr(self) -> float | None:
        """Set every parameter group's lr from the schedule; return the factor (None: constant)."""
        if self.lr_schedule == "constant" and self.warmup_steps == 0:
            return None
        factor = lr_factor(self.lr_schedule, self.step, self.steps, self.warmup_steps, self.min_lr_ratio)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor
        return factor

    def _compile_networks(self) -> None:
        """Compile each sub-network in place (its state_dict keys stay as they are)."""
        options = dict(self.compile) if isinstance(self.compile, Mapping) else {}
        children = [m for m in self.model.children() if any(True for _ in m.parameters())]
        for module in children or [self.model]:
            module.compile(**options)

    def _setup(self) -> None:
        dev = select_device(self._requested_device)
        self.dist = init_from_env(dev)
        self.device = select_device(self._requested_device, self.dist.local_rank)
        if self.batch_size % (self.dist.world_size * self.accumulate):
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by the {self.dist.world_size} ranks "
                f"times accumulate={self.accumulate}"
            )
        if self.steps_per_epoch() < 1:
            raise ValueError(f"batch_size={self.batch_size} is larger than the data set ({self.n} samples)")
        set_deterministic(self.deterministic)
        seed_everything(self.seed + self.dist.rank)
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.train()
        if self.dist.enabled:
            broadcast_module(self.model)
        self.optimizers = self.model.configure_optimizers()
        if not isinstance(self.optimizers, Mapping) or not self.optimizers:
            raise ValueError("configure_optimizers() must return a non-empty dict of optimizers")
        if self.compile is not False:
            self._compile_networks()
        self.scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None
        self._internal_callbacks: list[Any] = []
        path = self._resume_path()
        if self.out_dir is not None:
            self._claim_out_dir(path)  # refuses another run's directory before writing anything
        if path is not None:
            self._restore(path)
        self._wrapped = []
        if self.dist.enabled and self.data_parallel == "ddp":
            self._wrapped = wrap_networks(self.model, self.device, sync_batchnorm=self.sync_batchnorm)
        if self.out_dir is not None and self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            assert self.checkpoint_dir is not None
            ckpt.clean_stale(self.checkpoint_dir)
            if not self._owns_out_dir:
                self._write_run_file(resumed=path is not None or self._read_run_file() is not None)
            self._internal_callbacks.append(
                MetricsLogger(self.out_dir, every=self.log_every, tensorboard=self.tensorboard)
            )
        self._owns_out_dir = self.out_dir is not None

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
            k: ManagedOptimizer(
                o,
                world_size=1 if self._wrapped else self.dist.world_size,  # DDP has synchronised already
                grad_clip=self.grad_clip,
                scaler=self.scaler,
                accumulate=self.accumulate,
            )
            for k, o in self.optimizers.items()
        }
        start_step, t0 = self.step, time.perf_counter()
        bar = self._progress()
        batches = self._batches(self.step)
        self.stop_reason = None
        try:
            while self.step < self.steps and self.stop_reason is None:
                factor = self._apply_lr()
                sums: dict[str, float] = {}
                for i, micro in enumerate(self._micro_batches(next(batches))):
                    for m in managed.values():
                        m.begin_micro_batch(i)
                    with self._autocast():
                        out = self.model.training_step(micro, managed, self.step)  # type: ignore[arg-type]
                    for k, v in out.items():
                        sums[k] = sums.get(k, 0.0) + float(v)
                metrics = {k: v / self.accumulate for k, v in sums.items()}
                if self.scaler is not None:
                    self.scaler.update()
                    metrics["loss_scale"] = float(self.scaler.get_scale())
                for k, m in managed.items():
                    if m.last_grad_norm is not None:
                        metrics[f"grad_norm_{k}"] = m.last_grad_norm
                if factor is not None:
                    for k, opt in self.optimizers.items():
                        metrics[f"lr_{k}"] = float(opt.param_groups[0]["lr"])
                metrics = reduce_metrics(metrics, self.dist.world_size)
                reason = divergence_reason(metrics, self.divergence_threshold)
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
            batches.close()  # shuts DataLoader workers down
            if self._wrapped:
                unwrap_networks(self.model, self._wrapped)  # the caller gets its plain model back
                self._wrapped = []
        done = self.step - start_step
        out = {
            **self.last_metrics,
            "steps": float(self.step),
            "wall_time_s": self.wall_time,
            "steps_per_s": done / self.wall_time if self.wall_time > 0 else 0.0,
        }
        if self.stop_reason is not None:
            out["stopped_early"] = 1.0
        self._emit("on_fit_end", metrics=out)
        return out


def step_indices(
    n: int, batch_size: int, seed: int, step: int, rank: int = 0, world_size: int = 1
) -> np.ndarray:
    """Sample indices of ``rank``'s share of the global batch at ``step``: a pure function of
    its arguments (each epoch is a permutation seeded by ``(seed, epoch)``; the last partial
    batch of an epoch is dropped), which is what makes resume exact."""
    epoch, pos = divmod(step, n // batch_size)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    idx = perm[pos * batch_size : (pos + 1) * batch_size]
    local = batch_size // world_size
    return idx[rank * local : (rank + 1) * local]


def _collate_tuple(samples: list[Any]) -> tuple[Any, ...]:
    """default_collate, as a tuple of fields (a module-level function: workers pickle it)."""
    batch = default_collate(samples)
    return tuple(batch) if isinstance(batch, (list, tuple)) else (batch,)


class _StepBatches:
    """Batch sampler giving this rank's index list for each step from ``start`` on."""

    def __init__(self, trainer: Trainer, start: int) -> None:
        self.n, self.batch_size, self.seed = trainer.n, trainer.batch_size, trainer.seed
        self.rank, self.world = trainer.dist.rank, trainer.dist.world_size
        self.start, self.steps = start, trainer.steps

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.steps):
            yield step_indices(self.n, self.batch_size, self.seed, step, self.rank, self.world).tolist()
