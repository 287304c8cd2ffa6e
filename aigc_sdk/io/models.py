"""Saving and loading generative models, and finding saved use-cases, through the registry."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigc_sdk.io.artifacts import save_artifact

if TYPE_CHECKING:
    import torch

    from aigc_sdk.interfaces import GenerativeModel

from aigc_sdk.io.artifacts import _load_tensors, _parse_json
from aigc_sdk.io.atomic import _read_saved
from aigc_sdk.io.formats import CONFIG_FILE, MODEL_FORMAT, MODEL_FORMAT_VERSION, WEIGHTS_FILE, same_format


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
    """Write ``model.safetensors`` + ``config.json`` into ``directory``, replacing it as a whole."""
    save_artifact(directory, state_tensors(model), model_record(model, name))


def save_model(model: GenerativeModel, directory: str | os.PathLike[str], *, name: str | None = None) -> Path:
    """Save ``model`` to ``directory`` as ``config.json`` + ``model.safetensors``.

    ``name`` is the registry name used to rebuild it; by default it is looked up from the
    model's class. An existing save in ``directory`` is replaced as a whole (see
    :func:`atomic_write_dir`): a reader never sees new weights beside an old config. Returns the
    directory.
    """
    # Checked by what saving needs rather than by class, so this module never imports
    # aigc_sdk.interfaces (whose GenerativeModel.save calls save_model).
    if not all(callable(getattr(model, a, None)) for a in ("get_config", "state_dict", "load_state_dict")):
        raise ValueError(f"model must be a GenerativeModel, got {type(model).__name__}")
    if not isinstance(directory, (str, os.PathLike)) or not str(directory):
        raise ValueError(f"directory must be a path, got {directory!r}")
    write_model_files(model, directory, name)
    return Path(directory)


def _parse_model_record(data: bytes, path: Path) -> dict[str, Any]:
    from aigc_sdk.specs import check_model_config

    record = _parse_json(data, path)
    if not isinstance(record, dict) or not same_format(record.get("format"), MODEL_FORMAT):
        raise ValueError(f"{path} is not an aigc-sdk model config (format != {MODEL_FORMAT!r})")
    if int(record.get("format_version", 0)) > MODEL_FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {record['format_version']}; upgrade aigc-sdk to read it")
    if not isinstance(record.get("name"), str) or not isinstance(record.get("config"), dict):
        raise ValueError(f"{path} lacks a model 'name' or 'config'")
    check_model_config(record["config"], str(path))
    return record


def read_model_record(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``config.json`` of a saved model."""
    files = _read_saved(directory, (CONFIG_FILE,))
    if isinstance(files, str):
        raise FileNotFoundError(f"no saved model in {str(directory)!r}: {CONFIG_FILE} is missing")
    return _parse_model_record(files[CONFIG_FILE], Path(directory) / CONFIG_FILE)


def find_saved_model(path: str | os.PathLike[str]) -> Path | None:
    """``path`` itself if it holds a saved model (config.json + model.safetensors), else the newest
    folder below it that does (a run directory: its final ``model/`` or latest checkpoint)."""
    path = Path(path)
    if all((path / f).exists() for f in (CONFIG_FILE, WEIGHTS_FILE)):
        return path
    if not path.is_dir():
        return None
    candidates = [p.parent for p in path.rglob(WEIGHTS_FILE) if (p.parent / CONFIG_FILE).exists()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def load(
    directory: str | os.PathLike[str], *, device: str | torch.device = "cpu", strict: bool = True
) -> Any:
    """Rebuild a model saved by :func:`save_model` (or a trainer checkpoint) and load its weights.

    The model is recreated by the registered factory of its recorded class (or, for saves
    without one, ``aigc_sdk.create_model(name, **config)``), weights come
    from safetensors (no pickle), and the model is returned in eval mode on ``device``. The
    config and the weights are read from the same save, even while another process replaces it.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"directory must be a path, got {directory!r}")
    files = _read_saved(directory, (CONFIG_FILE, WEIGHTS_FILE))
    if isinstance(files, str):
        raise FileNotFoundError(f"no saved model in {str(directory)!r}: {files} is missing")
    from aigc_sdk.errors import CorruptFileError, ModelMismatchError

    config_path = Path(directory) / CONFIG_FILE
    record = _parse_model_record(files[CONFIG_FILE], config_path)
    try:
        model = _factory_for(record)(**record["config"])
    except (OverflowError, RecursionError, MemoryError) as exc:
        raise CorruptFileError(
            f"{config_path}: the model it describes cannot be built ({type(exc).__name__}: {exc})"
        ) from exc
    tensors = _load_tensors(files[WEIGHTS_FILE], directory)
    try:
        model.load_state_dict(tensors, strict=strict)
    except RuntimeError as exc:
        raise ModelMismatchError(_mismatch_message(model, tensors, Path(directory), exc)) from exc
    return model.to(device).eval()


def load_use_case(directory: str | os.PathLike[str]) -> Any:
    """Rebuild whatever saved use-case ``directory`` holds (a synthesizer, a detector, ...).

    The format tag in its ``config.json`` picks the registered use-case whose class declares
    that :attr:`~aigc_sdk.interfaces.UseCase.artifact_format`; that class's ``load`` reads it.
    Only registered use-cases are considered, so a file cannot name code to import.
    """
    from aigc_sdk.registry import default_registry

    if not isinstance(directory, (str, os.PathLike)) or not str(directory):
        raise ValueError(f"directory must be a path, got {directory!r}")
    path = Path(directory)
    files = _read_saved(path, (CONFIG_FILE, WEIGHTS_FILE))
    if isinstance(files, str):
        raise FileNotFoundError(f"no saved use-case in {str(path)!r}: {files} is missing")
    config = _parse_json(files[CONFIG_FILE], path / CONFIG_FILE)
    found = config.get("format") if isinstance(config, dict) else None
    registry = default_registry()
    for name in registry.list_names("use_case"):
        cls = registry.get("use_case", name).resolve()
        fmt = getattr(cls, "artifact_format", None)
        if isinstance(fmt, str) and same_format(found, fmt):
            return cls.load(path)  # type: ignore[attr-defined]
    raise ValueError(f"{path} holds format {found!r}, which no registered use-case reads")


def _factory_for(record: dict[str, Any]) -> Callable[..., Any]:
    """The registered factory that built the saved model: the registration whose target is the
    recorded ``class`` (so another plugin's model of the same short name cannot shadow it), else
    the recorded name. Only registered factories are ever called: a class named in a file is
    never imported on its own say-so."""
    from aigc_sdk.registry import create_model, default_registry

    cls = record.get("class")
    if isinstance(cls, str):
        cat = default_registry().catalog("model")
        for reg in [*cat.entries.values(), *(r for rs in cat.conflicts.values() for r in rs)]:
            target = reg.target
            qual = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
            if qual == cls:
                return reg.resolve()
    name = record["name"]
    return lambda **config: create_model(name, **config)


def _mismatch_message(
    model: torch.nn.Module, tensors: dict[str, torch.Tensor], directory: Path, exc: Exception
) -> str:
    """One line naming the weights file and the first keys that do not match the model."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    shapes = [
        f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)
    ]
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape (saved vs model)", shapes)):
        if keys:
            more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
            parts.append(f"{label}: {', '.join(keys[:3])}{more}")
    detail = "; ".join(parts) or str(exc).splitlines()[0]
    return (
        f"{WEIGHTS_FILE} in {str(directory)!r} does not match the model its {CONFIG_FILE} describes: {detail}"
    )
