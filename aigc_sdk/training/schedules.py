"""Learning-rate schedules as pure functions of the step.

A schedule here is a multiplier of each parameter group's initial learning rate, computed
from ``(step, total_steps)`` alone. Keeping it stateless is what makes resume exact: the
Trainer sets ``lr = initial_lr * lr_factor(...)`` before every step, so a resumed run needs no
scheduler state beyond the step it resumes at.
"""

from __future__ import annotations

import math

#: Names accepted by ``Trainer(lr_schedule=...)`` / ``aigc train --lr-schedule``.
LR_SCHEDULES = ("constant", "linear", "cosine")


def check_schedule(schedule: str, warmup_steps: int, min_lr_ratio: float) -> None:
    """Raise ValueError naming the argument when a schedule option is invalid."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if (
        isinstance(min_lr_ratio, bool)
        or not isinstance(min_lr_ratio, (int, float))
        or not 0.0 <= min_lr_ratio <= 1.0
    ):
        raise ValueError(f"min_lr_ratio must be a number in [0, 1], got {min_lr_ratio!r}")


def lr_factor(
    schedule: str, step: int, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> float:
    """Multiplier of the initial learning rate for the step about to run (``step`` = steps done).

    A linear warm-up from ``1 / (warmup_steps + 1)`` to 1 over the first ``warmup_steps``
    steps, then ``constant`` (1), ``linear`` (down to ``min_lr_ratio`` at the last step) or
    ``cosine`` (half a cosine down to ``min_lr_ratio``).
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps - 1)
    progress = min(1.0, (step - warmup_steps) / span)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    decay = 1.0 - progress if schedule == "linear" else cosine
    return min_lr_ratio + (1.0 - min_lr_ratio) * decay
