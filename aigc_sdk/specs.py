"""Argument checks shared by model implementations (first-party and third-party plugins).

Kept free of torch so plugins can call them from constructors without extra cost.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

# check_int is re-exported here for callers of earlier releases; the checks live in aigc_sdk.validation
from aigc_sdk.validation import check_int as check_int


def check_sample_count(n: Any, arg: str = "n") -> int:
    """Return ``n`` if it is a non-negative int, else raise ValueError naming ``arg``."""
    return int(check_int(arg, n, minimum=0))


def check_data_shape(data_shape: Any) -> tuple[int, ...]:
    """Validate ``data_shape`` (``(C, H, W)`` or ``(D,)`` of positive ints) and return it as a tuple."""
    if not isinstance(data_shape, (list, tuple)) or len(data_shape) not in (1, 3):
        raise ValueError(f"data_shape must be (C, H, W) or (D,), got {data_shape!r}")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in data_shape):
        raise ValueError(f"data_shape must hold positive ints, got {data_shape!r}")
    return tuple(data_shape)


def resolve_data_spec(
    data_shape: Sequence[int] | None, num_classes: int | None, dataset: str | None
) -> tuple[tuple[int, ...], int | None]:
    """Return ``(data_shape, num_classes)``, filled from the registered data set ``dataset``
    when only its name is given, and validated either way."""
    if dataset is not None:
        if not isinstance(dataset, str):
            raise ValueError(f"dataset must be a registered data set name, got {dataset!r}")
        from aigc_sdk.registry import load_dataset

        provider = load_dataset(dataset)
        data_shape = data_shape or provider.sample_shape
        num_classes = num_classes if num_classes is not None else provider.num_classes
    if data_shape is None:
        raise ValueError("data_shape is required (e.g. [1, 28, 28]) unless dataset= names a data set")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
    ):
        raise ValueError(f"num_classes must be an int >= 2 or None, got {num_classes!r}")
    return check_data_shape(list(data_shape)), num_classes


#: Model sizes (latent_dim, hidden, channels, ...) above this are refused as absurd.
MAX_MODEL_DIM = 2**20

#: Config keys that hold a layer width / count; :func:`check_model_config` caps them.
_SIZE_KEYS = ("dim", "dims", "hidden", "channels", "width", "layers", "units", "size")


def allocation_limit() -> int:
    """The largest single allocation the SDK attempts: the larger of 8 GiB and half of the RAM."""
    limit = 8 * 2**30
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        ram = 0
    return max(limit, ram // 2)


def format_bytes(nbytes: float) -> str:
    """``nbytes`` in human units (decimal: ``25.6 GB``)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(nbytes) < 1000 or unit == "PB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} PB"  # pragma: no cover


def check_allocation(what: str, nbytes: int | float, hint: str = "", *, purpose: str = "") -> None:
    """Raise :class:`~aigc_sdk.errors.UsageError` when ``nbytes`` exceeds :func:`allocation_limit`.

    ``what`` names the argument (``"-n 100000000"``), ``purpose`` the buffer (``"for the
    samples"``) and ``hint`` how to go lower; the message reads ``"-n 100000000 would need
    25.6 GB for the samples, more than the limit of ...; use a smaller -n"``. Call it before
    allocating, so that a typo fails at once instead of in a MemoryError (or the OOM killer).
    """
    from aigc_sdk.errors import UsageError

    limit = allocation_limit()
    if nbytes > limit:
        tail = f"; {hint}" if hint else ""
        for_what = f" {purpose}" if purpose else " of memory"
        raise UsageError(
            f"{what} would need {format_bytes(nbytes)}{for_what}, more than the limit of "
            f"{format_bytes(limit)} (the larger of 8 GiB and half of this machine's RAM){tail}"
        )


def check_model_config(config: Any, source: str) -> None:
    """Refuse absurd or non-finite numbers in a model config before the model is built.

    Walks ``config`` (dicts and lists): a width-like key (``latent_dim``, ``hidden``,
    ``channels``, ...) above :data:`MAX_MODEL_DIM` and any NaN/infinite float raise
    :class:`~aigc_sdk.errors.UsageError` naming ``source`` (e.g. ``"RUN/config.json"``) and the key.
    """
    from aigc_sdk.errors import UsageError

    def walk(obj: Any, key: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, str(k))
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v, key)
        elif isinstance(obj, float) and not math.isfinite(obj):
            raise UsageError(f"{source}: {key} is {obj} (a number too large for a float, or NaN)")
        elif isinstance(obj, int) and not isinstance(obj, bool) and obj > MAX_MODEL_DIM:
            name = key.lower()
            if any(name == s or name.endswith("_" + s) or name.startswith(s) for s in _SIZE_KEYS):
                raise UsageError(
                    f"{source}: {key}={obj} is absurdly large (at most {MAX_MODEL_DIM}); "
                    "the model would not fit in memory"
                )

    walk(config, "config")


def check_device(device: Any, arg: str = "--device") -> None:
    """Raise :class:`~aigc_sdk.errors.UsageError` when ``device`` names a backend this machine lacks.

    ``None``/``"auto"``/``"cpu"`` always pass; ``"cuda"``/``"cuda:N"`` need
    ``torch.cuda.is_available()`` (and N below the device count); ``"mps"`` needs the MPS backend.
    Other strings must parse as a ``torch.device``.
    """
    from aigc_sdk.errors import UsageError

    if device is None or (isinstance(device, str) and device in ("auto", "cpu")):
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise UsageError(f"{arg} {device}: not a device (expected cpu, cuda, cuda:N or mps): {exc}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                f"{arg} {device}: CUDA is not available on this machine (torch.cuda.is_available() is False)"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise UsageError(f"{arg} {device}: this machine has {count} CUDA device(s) (cuda:0..{count - 1})")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError(f"{arg} {device}: the MPS backend is not available on this machine")
