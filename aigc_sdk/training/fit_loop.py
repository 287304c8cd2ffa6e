"""A small fit loop for training code that does not go through :class:`~aigc_sdk.training.Trainer`.

Use-cases train their own networks (a tabular VAE or GAN, an anomaly autoencoder, a
recommender, a classifier) with loops shaped by their data, so they keep their loops and run
them inside a :class:`FitLoop`. The loop gives every such training what the Trainer gives a
GAN or a VAE:

* the lifecycle hooks (``on_fit_start``, ``on_train_step_end``, ``on_fit_end``) on the user's
  callbacks and on installed plugins (isolated: a failing plugin is quarantined and named);
* a progress bar (shown on a terminal unless asked otherwise);
* a divergence stop: a NaN/inf metric, or one above ``divergence_threshold``, raises
  :class:`~aigc_sdk.training.TrainingDivergedError` naming the step and the metric;
* a thread count for the duration of the fit (restored afterwards);
* ``request_stop(reason)`` for callbacks (early stopping), read by the loop as ``should_stop``.

::

    with FitLoop(model=net, total=epochs * len(batches), desc="tvae", callbacks=cbs) as loop:
        for epoch in range(epochs):
            for batch in batches:
                loss = train_step(batch)
                loop.end_step({"loss": loss})
            if loop.should_stop:
                break
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aigc_sdk import threads
from aigc_sdk.training.divergence import TrainingDivergedError, divergence_reason
from aigc_sdk.validation import check_int, check_number

log = logging.getLogger("aigc_sdk.training")


class FitLoop:
    """Context manager around a use-case's training loop (see the module docstring).

    Args:
        model: the module being trained (what lifecycle hooks receive as ``model``).
        total: the number of :meth:`step` calls expected (for the progress bar; ``steps``).
        desc: progress-bar label.
        callbacks: objects with lifecycle methods (``aigc_sdk.training.Callback``).
        progress: show a tqdm bar; ``None`` shows it only when stderr is a terminal.
        num_threads: torch intra-op threads during the fit (``None`` leaves the setting alone).
        divergence_threshold: a metric above this magnitude (or NaN/inf) stops the fit.
    """

    #: Use-case fits write no run directory; hooks that look for one find ``None``.
    out_dir: Path | None = None

    def __init__(
        self,
        *,
        model: Any,
        total: int | None = None,
        desc: str = "fit",
        callbacks: Sequence[Any] = (),
        progress: bool | None = False,
        num_threads: int | None = None,
        divergence_threshold: float | None = 1e8,
    ) -> None:
        self.model, self.desc = model, desc
        self.steps = check_int("total", total, minimum=0, allow_none=True)
        self.num_threads = check_int("num_threads", num_threads, allow_none=True)
        if progress is not None and not isinstance(progress, bool):
            raise ValueError(f"progress must be True, False or None, got {progress!r}")
        check_number("divergence_threshold", divergence_threshold, minimum=0, exclusive=True, allow_none=True)
        self.user_callbacks = list(callbacks)
        self.progress, self.divergence_threshold = progress, divergence_threshold
        self.step = 0  # steps done so far (``trainer.step`` to hooks, as with the Trainer)
        self.last_metrics: dict[str, float] = {}
        self.stop_reason: str | None = None
        self._bar: Any = None
        self._threads: Any = None

    # ------------------------------------------------------------------ what hooks see
    @property
    def should_stop(self) -> bool:
        """Whether a callback asked to stop (:meth:`request_stop`)."""
        return self.stop_reason is not None

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop; the training code checks :attr:`should_stop`."""
        self.stop_reason = reason

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FitLoop:
        self._threads = threads.num_threads(self.num_threads)
        self._threads.__enter__()
        show = self.progress if self.progress is not None else sys.stderr.isatty()
        if show:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.steps, desc=self.desc, dynamic_ncols=True, leave=False)
        self._emit("on_fit_start")
        return self

    def end_step(self, metrics: Mapping[str, float] | None = None) -> None:
        """Record one optimisation step: divergence check, progress, ``on_train_step_end``.

        Raises :class:`~aigc_sdk.training.TrainingDivergedError` when a metric is NaN/inf or
        beyond ``divergence_threshold``.
        """
        values = {k: float(v) for k, v in (metrics or {}).items()}
        reason = divergence_reason(values, self.divergence_threshold)
        if reason is not None:
            self.last_metrics = values
            raise TrainingDivergedError(
                f"{self.desc}: training diverged at step {self.step + 1} ({reason}); stopped",
                self.step + 1,
                values,
                None,
            )
        self.step += 1
        self.last_metrics = values
        if self._bar is not None:
            self._bar.update(1)
        self._emit("on_train_step_end", step=self.step, metrics=values)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:  # as with the Trainer: on_fit_end after a normal end and after a divergence stop
            if exc_type is None or issubclass(exc_type, TrainingDivergedError):
                self._emit("on_fit_end", metrics=dict(self.last_metrics))
        finally:
            if self._bar is not None:
                self._bar.close()
            self._threads.__exit__(exc_type, exc, tb)

    def _emit(self, hook: str, **kwargs: Any) -> None:
        from aigc_sdk.registry import call_lifecycle_hook

        for cb in self.user_callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(trainer=self, model=self.model, **kwargs)
        for failure in call_lifecycle_hook(hook, trainer=self, model=self.model, **kwargs):
            log.warning("aigc_sdk: %s; the plugin is quarantined and the fit continues", failure.describe())
