"""Trainer checkpoints: one directory per step, complete or absent.

A checkpoint ``<out>/checkpoints/step-00000100/`` holds

* ``config.json`` + ``model.safetensors`` -- a saved model (``aigc_sdk.load`` reads it),
* ``optim.safetensors`` -- optimizer tensors and RNG states,
* ``trainer_state.json`` -- step, seed, optimizer scalars/param groups, RNG metadata.

It is written through :func:`aigc_sdk.io.atomic_write_dir`: into a hidden temporary
directory, every file fsynced, then renamed into place and the parent fsynced (re-saving a
step swaps the old one out first): a reader (or a process killed at any moment) sees whole
checkpoints only. Pruning (``keep_last``) never deletes a checkpoint newer than the one just
written. Pickle is never used.
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

from aigc_sdk.io import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    atomic_write_dir,
    clean_stale_siblings,
    fsync_dir,
    model_record,
    old_dir_path,
    recover_dir,
    state_tensors,
)

STATE_FILE = "trainer_state.json"
OPTIM_FILE = "optim.safetensors"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")
_HIDDEN_STEP_DIR = re.compile(r"^\.(step-\d{8,})\.")
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
    """Complete checkpoints under ``root`` as ``(step, path)``, oldest first.

    A checkpoint that a killed re-save left moved aside (``.step-XXXXXXXX.old``) is put back first.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    for entry in list(root.iterdir()):
        m = _HIDDEN_STEP_DIR.match(entry.name)
        if m and entry == old_dir_path(root / m.group(1)):
            recover_dir(root / m.group(1))
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
    """Remove temporary/trash directories left by a process killed mid-write or mid-delete.

    A checkpoint moved aside by a killed re-save is restored (see :func:`list_checkpoints`).
    """
    root = Path(root)
    if not root.is_dir():
        return
    list_checkpoints(root)  # restores moved-aside checkpoints
    for entry in list(root.iterdir()):
        if entry.name.startswith((".tmp-", ".trash-")):  # names used by older versions
            shutil.rmtree(entry, ignore_errors=True)
        else:
            m = _HIDDEN_STEP_DIR.match(entry.name)
            if m:
                clean_stale_siblings(root / m.group(1))


def _remove_dir(path: Path) -> None:
    # Rename first so a half-deleted directory never looks like a checkpoint.
    trash = path.parent / f".trash-{path.name}-{uuid.uuid4().hex[:8]}"
    os.replace(path, trash)
    fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    # atomic_write_dir fsyncs every file of the directory before moving it into place.
    with open(path, "wb") as fh:
        fh.write(data)


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
    record = model_record(model, model_name)
    weights = save(state_tensors(model), metadata={"format": "pt"})
    tensors: dict[str, torch.Tensor] = dict(extra_tensors or {})
    optim_docs: dict[str, Any] = {}
    for name, opt in optimizers.items():
        t, doc = flatten_optimizer_state(name, opt.state_dict())
        tensors.update(t)
        optim_docs[name] = doc
    optim = save(tensors, metadata={"format": "pt"})
    state = {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        **trainer_state,
        "step": step,
        "optimizers": optim_docs,
    }

    def _fill(tmp: Path) -> None:
        _write_file(tmp / WEIGHTS_FILE, weights)
        _write_file(tmp / OPTIM_FILE, optim)
        _write_file(tmp / CONFIG_FILE, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
        _write_file(tmp / STATE_FILE, (json.dumps(state, indent=1, sort_keys=True) + "\n").encode())

    atomic_write_dir(final, _fill)
    if keep_last is not None:
        # Only checkpoints up to this step compete for the keep_last slots: a newer one is
        # never deleted in favour of older ones, and this one is never deleted at all.
        older = [p for s, p in list_checkpoints(root) if s <= step]
        for old in older[:-keep_last]:
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
    return load_file(str(path / WEIGHTS_FILE)), load_file(str(path / OPTIM_FILE)), state


__all__ = [
    "clean_stale",
    "flatten_optimizer_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
    "unflatten_optimizer_state",
]
