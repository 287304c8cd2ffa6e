"""Argument checks with one message style, for the core and every plugin.

Each check returns the value (normalised: NumPy integers become ``int``) or raises a
``ValueError`` that names the argument, says what was expected and shows what was given::

    check_int("steps", steps, minimum=0)        # "steps must be a non-negative int, got -1"
    check_number("lr", lr, minimum=0, exclusive=True)  # "lr must be a positive number, got 0"
    check_choice("loss", loss, LOSSES)          # "loss must be one of ['hinge', ...], got 'hing'"

Nothing here imports torch, so constructors can call these at no cost.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def _int_words(minimum: int | None) -> str:
    if minimum == 1:
        return "a positive int"
    if minimum == 0:
        return "a non-negative int"
    return "an int" if minimum is None else f"an int >= {minimum}"


def check_int(
    name: str, value: Any, *, minimum: int | None = 1, maximum: int | None = None, allow_none: bool = False
) -> Any:
    """``value`` as an ``int`` (bools refused) within ``[minimum, maximum]``; ``None`` passes
    when ``allow_none``."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and ((minimum is not None and value < minimum) or (maximum is not None and value > maximum)):
        ok = False
    if not ok:
        what = _int_words(minimum) + (f" <= {maximum}" if maximum is not None else "")
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: bool = False,
    allow_none: bool = False,
) -> Any:
    """``value`` as a ``float`` (finite; bools refused) within the bounds (``exclusive``: the
    minimum itself is refused); ``None`` passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and minimum is not None and (value <= minimum if exclusive else value < minimum):
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        if minimum == 0 and maximum is None:
            what = "a positive number" if exclusive else "a non-negative number"
        else:
            bounds = []
            if minimum is not None:
                bounds.append(f"{'>' if exclusive else '>='} {minimum:g}")
            if maximum is not None:
                bounds.append(f"<= {maximum:g}")
            what = "a number" + (" " + " and ".join(bounds) if bounds else "")
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (not merely truthy)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value
