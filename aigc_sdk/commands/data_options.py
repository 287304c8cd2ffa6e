"""Data-set options on the command line: ``--data KEY=VALUE,...`` and ``--data-config FILE``.

Every command that names a data set (``train``, ``eval``, and plugin commands such as
``augment``) adds both with :func:`add_data_options` and reads them with
:func:`read_data_options`, so a provider that needs options (``image-folder`` needs ``root``)
works everywhere a data set is named. Plugin commands may use this module.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def parse_key_values(text: str, arg: str) -> dict[str, Any]:
    """``"root=DIR,size=64,rgb=true"`` -> ``{"root": "DIR", "size": 64, "rgb": True}``.

    Values that parse as JSON (numbers, true/false/null, quoted strings, lists) are converted;
    anything else stays a string. A part without ``=`` is an error naming ``arg``.
    """
    from aigc_sdk.errors import UsageError

    out: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"{arg}: expected KEY=VALUE[,KEY=VALUE...], got {part.strip()!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def add_data_options(parser: argparse.ArgumentParser | Any) -> None:
    """Add ``--data KEY=VALUE,...`` and ``--data-config FILE`` to ``parser`` (or an argument group)."""
    parser.add_argument(
        "--data",
        default=None,
        metavar="KEY=VALUE,...",
        help="options of the data set, e.g. --dataset image-folder --data root=DIR,size=64,mode=RGB",
    )
    parser.add_argument(
        "--data-config",
        default=None,
        metavar="FILE.json",
        help="a JSON object of data-set options (--data entries override it)",
    )


def read_data_options(args: argparse.Namespace) -> dict[str, Any]:
    """The data-set options of ``args``: ``--data-config``'s object updated by ``--data``."""
    from aigc_sdk.errors import UsageError

    options: dict[str, Any] = {}
    path = getattr(args, "data_config", None)
    if path:
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--data-config: file {path!r} does not exist") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"--data-config: {path!r} is not a readable JSON file: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--data-config: {path!r} must hold a JSON object of options")
        options.update(loaded)
    text = getattr(args, "data", None)
    if text:
        options.update(parse_key_values(text, "--data"))
    return options
