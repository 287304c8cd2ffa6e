"""Save and load models (``config.json`` + ``model.safetensors``), write reports and image grids.

Nothing here unpickles: weights go through safetensors, everything else through JSON. Files
are written atomically (temporary file, ``fsync``, ``os.replace``), so a reader sees either
the old file or the new one, never a torn write.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from aigc_sdk.interfaces import GenerativeModel

#: Marks a ``config.json`` written by :func:`save_model`.
MODEL_FORMAT = "aigc-sdk-model"
MODEL_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


# --------------------------------------------------------------------------- atomic files


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory entry (after a rename) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default_file_mode() -> int:
    """What ``open(path, "w")`` would give a new file: 0o666 less the process umask."""
    mask = os.umask(0)  # the only way to read the umask; set back at once (at import time)
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _default_file_mode()


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file next to ``path``, then move it onto ``path``.

    For writers that want a file name (``safetensors.torch.save_file``, ``DataFrame.to_csv``): the
    file is fsynced before ``os.replace``, and removed if ``write`` raises, so ``path`` holds either
    its old content or the complete new one. The file gets the permissions of the one it replaces, or
    those of a newly created file (not ``mkstemp``'s owner-only 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, mode)
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory + ``os.replace``."""

    def _write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write(path, _write)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


# --------------------------------------------------------------------------- artifacts


def save_artifact(
    directory: str | os.PathLike[str], tensors: dict[str, torch.Tensor], config: dict[str, Any]
) -> Path:
    """Save a fitted object as ``model.safetensors`` (``tensors``) + ``config.json`` (``config``).

    Weights are written first and the config last, each atomically, so a directory holding a
    ``config.json`` is complete. ``config`` must be JSON without NaN or infinity (ValueError).
    Returns the directory. Models, use-cases and plugins share this layout; nothing is pickled.
    """
    from safetensors.torch import save

    try:
        text = json.dumps(config, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config is not plain JSON (no NaN/inf, str keys): {exc}") from exc
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contiguous = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write_bytes(directory / WEIGHTS_FILE, save(contiguous, metadata={"format": "pt"}))
    atomic_write_text(directory / CONFIG_FILE, text)  # last: its presence marks a complete save
    return directory


def load_artifact(
    directory: str | os.PathLike[str], fmt: str, what: str = "artifact"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read what :func:`save_artifact` wrote: ``(config, tensors)``.

    FileNotFoundError when either file is missing; ValueError when ``config["format"]`` is not
    ``fmt`` (the directory holds something else). ``what`` names the object in those messages.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not cfg_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(
            f"no saved {what} in {str(directory)!r}: {CONFIG_FILE} + {WEIGHTS_FILE} expected"
        )
    config = json.loads(cfg_path.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("format") != fmt:
        found = config.get("format") if isinstance(config, dict) else None
        raise ValueError(f"{directory} does not hold a saved {what} (format {found!r}, expected {fmt!r})")
    return config, load_file(str(weights_path))


# --------------------------------------------------------------------------- models


def registered_name(model: GenerativeModel) -> str:
    """The registry name whose target is ``type(model)`` (e.g. ``"cgan"``)."""
    from aigc_sdk.registry import default_registry

    cls = type(model)
    qual = f"{cls.__module__}:{cls.__qualname__}"
    cat = default_registry().catalog("model")
    regs = [*cat.entries.values(), *(r for rs in cat.conflicts.values() for r in rs)]
    for reg in regs:
        if reg.target == qual or reg.target is cls:
            return reg.name if reg.name in cat.entries else f"{reg.plugin}:{reg.name}"
    raise ValueError(
        f"model class {qual} is not registered by any loaded plugin; pass name= to save_model "
        "with the name aigc_sdk.create_model should use to rebuild it"
    )


def state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors, ready for safetensors."""
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def model_record(model: GenerativeModel, name: str | None = None) -> dict[str, Any]:
    """The ``config.json`` content describing ``model``."""
    from aigc_sdk._version import __version__

    if name is None:
        name = registered_name(model)
    config = model.get_config()
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{type(model).__name__}.get_config() is not JSON-serialisable: {exc}") from exc
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "name": name,
        "family": getattr(model, "family", "generic"),
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "sdk_version": __version__,
        "config": config,
    }


def write_model_files(
    model: GenerativeModel, directory: str | os.PathLike[str], name: str | None = None
) -> None:
    """Write ``model.safetensors`` then ``config.json`` (each atomically) into ``directory``."""
    save_artifact(directory, state_tensors(model), model_record(model, name))


def save_model(model: GenerativeModel, directory: str | os.PathLike[str], *, name: str | None = None) -> Path:
    """Save ``model`` to ``directory`` as ``config.json`` + ``model.safetensors``.

    ``name`` is the registry name used to rebuild it; by default it is looked up from the
    model's class. Returns the directory.
    """
    from aigc_sdk.interfaces import GenerativeModel

    if not isinstance(model, GenerativeModel):
        raise ValueError(f"model must be a GenerativeModel, got {type(model).__name__}")
    if not isinstance(directory, (str, os.PathLike)) or not str(directory):
        raise ValueError(f"directory must be a path, got {directory!r}")
    write_model_files(model, directory, name)
    return Path(directory)


def read_model_record(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``config.json`` of a saved model."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no saved model in {str(directory)!r}: {CONFIG_FILE} is missing")
    record = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(record, dict) or record.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not an aigc-sdk model config (format != {MODEL_FORMAT!r})")
    if int(record.get("format_version", 0)) > MODEL_FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {record['format_version']}; upgrade aigc-sdk to read it")
    if not isinstance(record.get("name"), str) or not isinstance(record.get("config"), dict):
        raise ValueError(f"{path} lacks a model 'name' or 'config'")
    return record


def load(
    directory: str | os.PathLike[str], *, device: str | torch.device = "cpu", strict: bool = True
) -> Any:
    """Rebuild a model saved by :func:`save_model` (or a trainer checkpoint) and load its weights.

    The model is recreated through ``aigc_sdk.create_model(name, **config)``, weights come
    from safetensors (no pickle), and the model is returned in eval mode on ``device``.
    """
    from safetensors.torch import load_file

    from aigc_sdk.registry import create_model

    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"directory must be a path, got {directory!r}")
    record = read_model_record(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"no saved model in {str(directory)!r}: {WEIGHTS_FILE} is missing")
    model = create_model(record["name"], **record["config"])
    model.load_state_dict(load_file(str(weights)), strict=strict)
    return model.to(device).eval()


# --------------------------------------------------------------------------- images


def save_image_grid(
    images: torch.Tensor, path: str | os.PathLike[str], *, nrow: int | None = None, padding: int = 2
) -> Path:
    """Tile ``(N, C, H, W)`` images in [0, 1] (C = 1 or 3) into one PNG, written atomically."""
    import io as _io

    import numpy as np
    import torch
    from PIL import Image

    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (N, C, H, W) tensor with C in (1, 3), got {shape}")
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("images is empty")
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + padding) + padding, nrow * (w + padding) + padding)
    imgs = images.detach().float().cpu().clamp(0, 1)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = imgs[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, mode="L" if c == 1 else "RGB")
    buf = _io.BytesIO()
    img.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
