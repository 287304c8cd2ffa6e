"""Saved artifacts: ``model.safetensors`` (tensors) + ``config.json`` (JSON with a format tag),
for models and every use-case."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


from aigc_sdk.io.atomic import _read_saved, atomic_write_dir
from aigc_sdk.io.formats import CONFIG_FILE, WEIGHTS_FILE, same_format, saved_format_version


def _write_plain(path: Path, data: bytes) -> None:
    # atomic_write_dir fsyncs every file of the directory before moving it into place.
    with open(path, "wb") as fh:
        fh.write(data)


def save_artifact(
    directory: str | os.PathLike[str], tensors: dict[str, torch.Tensor], config: dict[str, Any]
) -> Path:
    """Save a fitted object as ``model.safetensors`` (``tensors``) + ``config.json`` (``config``).

    The directory is replaced as a whole (:func:`atomic_write_dir`): a reader, or a process
    killed at any moment, sees the previous save or the new one, never new weights beside an
    old config. ``config`` must be JSON without NaN or infinity (ValueError, nothing written).
    Returns the directory. Models, use-cases and plugins share this layout; nothing is pickled.
    """
    from safetensors.torch import save

    try:
        text = json.dumps(config, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config is not plain JSON (no NaN/inf, str keys): {exc}") from exc
    if not isinstance(directory, (str, os.PathLike)) or not str(directory):
        raise ValueError(f"directory must be a path, got {directory!r}")
    contiguous = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    weights = save(contiguous, metadata={"format": "pt"})

    def _fill(tmp: Path) -> None:
        _write_plain(tmp / WEIGHTS_FILE, weights)
        _write_plain(tmp / CONFIG_FILE, text.encode("utf-8"))

    atomic_write_dir(directory, _fill)
    return Path(directory)


def _load_tensors(data: bytes, where: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """Deserialise safetensors ``data``; a corrupt file raises CorruptFileError naming ``where``."""
    from safetensors.torch import load as load_bytes

    try:
        return load_bytes(data)
    except Exception as exc:  # safetensors raises its own SafetensorError (an Exception subclass)
        from aigc_sdk.errors import CorruptFileError

        if where is None:
            raise
        raise CorruptFileError(
            f"{WEIGHTS_FILE} in {str(where)!r} is corrupt or truncated: {exc} ({len(data)} bytes)"
        ) from exc


def _parse_json(data: bytes, path: Path) -> Any:
    """``json.loads`` of a saved config; garbage, deep nesting or bad UTF-8 raise CorruptFileError."""
    from aigc_sdk.errors import CorruptFileError

    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise CorruptFileError(f"{path} is nested too deeply to read (a crafted or corrupt file)") from None
    except (ValueError, OverflowError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CorruptFileError(f"{path} is not valid JSON: {exc}") from None


def load_artifact(
    directory: str | os.PathLike[str], fmt: str, what: str = "artifact", *, max_version: int | None = None
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read what :func:`save_artifact` wrote: ``(config, tensors)``.

    FileNotFoundError when either file is missing; ValueError when ``config["format"]`` is not
    ``fmt`` (current or legacy spelling: the directory holds something else) or its
    ``format_version`` is above ``max_version``. ``what`` names the object in those messages.
    Both files come from the same save, and a save that a kill left half swapped is recovered.
    """
    directory = Path(directory)
    files = _read_saved(directory, (CONFIG_FILE, WEIGHTS_FILE))
    if isinstance(files, str):
        raise FileNotFoundError(
            f"no saved {what} in {str(directory)!r}: {CONFIG_FILE} + {WEIGHTS_FILE} expected"
        )
    config = _parse_json(files[CONFIG_FILE], directory / CONFIG_FILE)
    if not isinstance(config, dict) or not same_format(config.get("format"), fmt):
        found = config.get("format") if isinstance(config, dict) else None
        raise ValueError(f"{directory} does not hold a saved {what} (format {found!r}, expected {fmt!r})")
    if max_version is not None and saved_format_version(config) > max_version:
        raise ValueError(
            f"{directory} holds a {what} of format version {saved_format_version(config)}, newer than this "
            f"aigc-sdk reads ({max_version}); upgrade aigc-sdk to load it"
        )
    return config, _load_tensors(files[WEIGHTS_FILE], directory)
