"""Strict JSON and text files for the synth plugin, written atomically by :mod:`aigc_sdk.io`."""

from __future__ import annotations

import json
import os
from typing import Any

from aigc_sdk.io import atomic_write_text as write_text


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON in insertion order; NaN or inf raise ValueError
    (reports and configs must stay standard JSON)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


__all__ = ["write_json", "write_text"]
