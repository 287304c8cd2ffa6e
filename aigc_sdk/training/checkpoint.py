"""Trainer checkpoints: one directory per step, complete or absent.

A checkpoint ``<out>/checkpoints/step-00000100/`` holds

* ``config.json`` + ``model.safetensors`` -- a saved model (``aigc_sdk.load`` reads it),
* ``optim.safetensors`` -- optimizer tensors and RNG states,
* ``trainer_state.json`` -- step, seed, optimizer scalars/param groups, RNG metadata.

It is written into a hidden temporary directory, every file fsynced, then renamed into
place with ``os.replace`` and the parent fsynced: a reader (or a process killed at any
moment) sees whole checkpoints only. Pickle is never used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from aigc_sdk.io import fsync_dir, model_record, state_tensors

STATE_FILE = "trainer_state.json"
OPTIM_FILE = "optim.safetensors"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")
CHECKPOINT_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- optimizer state


def flatten_optimizer_state(
    name: str, state: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-ready tensors and a JSON document."""
    tensors: dict[str, torch.Tensor] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        entry: dict[str, Any] = {}
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tkey = f"optim.{name}.{pid}.{key}"
                tensors[tkey] = value.detach().to("cpu").contiguous()
                entry[key] = {"tensor": tkey}
            else:
                entry[key] = {"value": value}
        per_param[str(pid)] = entry
    return tensors, {"state": per_param, "param_groups": state["param_groups"]}


def unflatten_optimizer_state(doc: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in doc["state"].items():
        state[int(pid)] = {
            key: (tensors[item["tensor"]] if "tensor" in item else item["value"])
            for key, item in entry.items()
        }
    groups = []
    for group in doc["param_groups"]:
        group = dict(group)
        for key in ("betas",):  # JSON turns tuples into lists; restore what torch expects
            if isinstance(group.get(key), list):
                group[key] = tuple(group[key])
        groups.append(group)
    return {"state": state, "param_groups": groups}


# --------------------------------------------------------------------------- directories


def step_dir_name(step: int) -> str:
    """Directory name of the checkpoint at ``step``."""
    return f"step-{step:08d}"


def list_checkpoints(root: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` as ``(step, path)``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        m = _STEP_DIR.match(entry.name)
        if m and (entry / STATE_FILE).is_file():
            found.append((int(m.group(1)), entry))
    return sorted(found)


def latest_checkpoint(root: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint under ``root`` (or None)."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def clean_stale(root: str | os.PathLike[str]) -> None:
    """Remove temporary/trash directories left by a process killed mid-write or mid-delete."""
    root = Path(root)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(entry, ignore_errors=True)


def _remove_dir(path: Path) -> None:
    # Rename first so a half-deleted directory never looks like a checkpoint.
    trash = path.parent / f".trash-{path.name}-{uuid.uuid4().hex[:8]}"
    os.replace(path, trash)
    fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def save_checkpoint(
    root: str | os.PathLike[str],
    step: int,
    model: Any,
    optimizers: dict[str, torch.optim.Optimizer],
    trainer_state: dict[str, Any],
    extra_tensors: dict[str, torch.Tensor] | None = None,
    *,
    keep_last: int | None = None,
    model_name: str | None = None,
) -> Path:
    """Write the checkpoint of ``step`` atomically and prune to the newest ``keep_last``."""
    from safetensors.torch import save

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{step_dir_name(step)}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        record = model_record(model, model_name)
        _write_file(tmp / "model.safetensors", save(state_tensors(model), metadata={"format": "pt"}))
        tensors: dict[str, torch.Tensor] = dict(extra_tensors or {})
        optim_docs: dict[str, Any] = {}
        for name, opt in optimizers.items():
            t, doc = flatten_optimizer_state(name, opt.state_dict())
            tensors.update(t)
            optim_docs[name] = doc
        _write_file(tmp / OPTIM_FILE, save(tensors, metadata={"format": "pt"}))
        _write_file(tmp / "config.json", (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
        state = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            **trainer_state,
            "step": step,
            "optimizers": optim_docs,
        }
        _write_file(tmp / STATE_FILE, (json.dumps(state, indent=1, sort_keys=True) + "\n").encode())
        fsync_dir(tmp)
        if final.exists():  # re-saving a step (after a resume): swap the old one out first
            _remove_dir(final)
        os.replace(tmp, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep_last is not None:
        for _, old in list_checkpoints(root)[:-keep_last]:
            _remove_dir(old)
    return final


def load_checkpoint(
    path: str | os.PathLike[str],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: ``(model_state, optim_and_rng_tensors, trainer_state)``."""
    path = Path(path)
    state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    if int(state.get("format_version", 0)) > CHECKPOINT_FORMAT_VERSION:
        raise ValueError(f"checkpoint {path} is from a newer aigc-sdk (format {state['format_version']})")
    return load_file(str(path / "model.safetensors")), load_file(str(path / OPTIM_FILE)), state


__all__ = [
    "clean_stale",
    "flatten_optimizer_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
    "unflatten_optimizer_state",
]
