"""Save and load models (``config.json`` + ``model.safetensors``), write reports and image grids.

Nothing here unpickles: weights go through safetensors, everything else through JSON.

Single files are written atomically (temporary file, ``fsync``, ``os.replace``), so a reader
sees either the old file or the new one, never a torn write.

Saved models and artifacts are directories, and they are replaced as a whole
(:func:`atomic_write_dir`): the new directory is written beside the target as a hidden
``.NAME.tmp-PID-XXXX`` sibling, every file and the directory are fsynced, then the target is
renamed to the hidden ``.NAME.old`` sibling, the temporary renamed onto the target and the old
one deleted. A reader sees the old directory or the new one, never a mix; a process killed
between the two renames leaves ``.NAME.old``, which the next load or save restores
(:func:`recover_dir`). Temporaries of dead processes are removed at the next save.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from aigc_sdk.interfaces import GenerativeModel

#: Every saved artifact names its kind as ``"aigc-sdk/<kind>"`` in ``config.json["format"]``
#: and its layout revision as an int in ``"format_version"`` (see :func:`format_tag`).
FORMAT_PREFIX = "aigc-sdk/"
#: Tags written by earlier releases, read as their current names.
LEGACY_FORMATS = {
    "aigc-sdk-model": "aigc-sdk/model",
    "aigc-sdk-run": "aigc-sdk/run",
    "aigc-recommender": "aigc-sdk/recommender",
    "aigc-anomaly-detector": "aigc-sdk/anomaly-detector",
    "aigc_synth/1": "aigc-sdk/synthesizer",
}


def format_tag(kind: str) -> str:
    """The ``format`` value of a saved ``kind`` (``"model"``, ``"synthesizer"``, ...)."""
    return FORMAT_PREFIX + kind


def same_format(found: Any, expected: str) -> bool:
    """Whether a saved ``format`` value (current or legacy) names the ``expected`` tag."""
    if not isinstance(found, str):
        return False
    return LEGACY_FORMATS.get(found, found) == LEGACY_FORMATS.get(expected, expected)


def saved_format_version(config: dict[str, Any]) -> int:
    """The layout revision of a saved config (``version`` in older use-case saves; 1 if absent)."""
    value = config.get("format_version", config.get("version", 1))
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


#: Marks a ``config.json`` written by :func:`save_model`.
MODEL_FORMAT = format_tag("model")
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


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this process counts as alive: a thread may be writing)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_path(path: Path) -> None:
    """Delete a file or directory tree, ignoring what is already gone."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def _clean_stale_file_temps(path: Path) -> None:
    """Remove ``.NAME.PID-XXXX.tmp`` files that a killed :func:`atomic_write` left beside ``path``."""
    prefix = f".{path.name}."
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) : -len(".tmp")].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            _remove_path(entry)


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file next to ``path``, then move it onto ``path``.

    For writers that want a file name (``safetensors.torch.save_file``, ``DataFrame.to_csv``): the
    file is fsynced before ``os.replace``, and removed if ``write`` raises, so ``path`` holds either
    its old content or the complete new one. The file gets the permissions of the one it replaces, or
    those of a newly created file (not ``mkstemp``'s owner-only 0600). Temporary files that a killed
    process left beside ``path`` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_file_temps(path)
    mode = path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
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


# --------------------------------------------------------------------------- output paths


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    here = path
    while not here.exists() and here.parent != here:
        here = here.parent
    return here


def _probe_writable(directory: Path, arg: str, path: Path) -> None:
    """Create and delete a temporary file in ``directory``; UsageError if that fails."""
    from aigc_sdk.errors import UsageError

    try:
        fd, probe = tempfile.mkstemp(prefix=".aigc-write-probe-", dir=directory)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{arg} {path}: cannot write in {str(directory)!r} ({reason})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_path(path: str | os.PathLike[str], arg: str = "--out", *, kind: str = "dir") -> Path:
    """Check, before any work starts, that ``path`` can be written as a directory or a file.

    ``kind="dir"``: ``path`` must be a directory or not exist yet; ``kind="file"``: it must not
    be a directory. The closest existing ancestor must be a directory in which this process can
    create files (probed with a temporary file, so it also holds for root and read-only mounts).
    Raises :class:`~aigc_sdk.errors.UsageError` naming ``arg``; returns ``Path(path)``.
    """
    from aigc_sdk.errors import UsageError

    if kind not in ("dir", "file"):
        raise ValueError(f"kind must be 'dir' or 'file', got {kind!r}")
    target = Path(path)
    if not str(path):
        raise UsageError(f"{arg}: expected a path, got an empty string")
    if kind == "dir" and target.exists() and not target.is_dir():
        raise UsageError(
            f"{arg} {target}: exists and is not a directory (expected a directory or a new path)"
        )
    if kind == "file" and target.is_dir():
        raise UsageError(f"{arg} {target}: is a directory (expected a file path)")
    start = target if kind == "dir" else target.parent
    base = _nearest_existing(start if str(start) else Path("."))
    if not base.is_dir():
        raise UsageError(f"{arg} {target}: {str(base)!r} is a file, not a directory")
    _probe_writable(base, arg, target)
    return target


# --------------------------------------------------------------------------- atomic directories

_TMP_DIR_TAG = ".tmp-"
_OLD_DIR_TAG = ".old"
_TRASH_DIR_TAG = ".trash-"


def _sibling(target: Path, tag: str) -> Path:
    return target.parent / f".{target.name}{tag}"


def old_dir_path(directory: str | os.PathLike[str]) -> Path:
    """The hidden sibling ``.NAME.old`` that holds the previous ``directory`` during a swap."""
    return _sibling(Path(directory), _OLD_DIR_TAG)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_tree(root: Path) -> None:
    """fsync every regular file under ``root``, then every directory, deepest first."""
    dirs = []
    for here, _subdirs, files in os.walk(root):
        dirs.append(Path(here))
        for name in files:
            p = Path(here) / name
            if p.is_file() and not p.is_symlink():
                _fsync_file(p)
    for d in reversed(dirs):
        fsync_dir(d)


def _trash(path: Path, owner: Path) -> None:
    """Rename ``path`` to a hidden ``.OWNER.trash-XXXX`` sibling, then delete it.

    Renaming first means a half-deleted tree never sits under a name a reader looks at.
    """
    trash = _sibling(owner, f"{_TRASH_DIR_TAG}{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
    _remove_path(trash)


def recover_dir(directory: str | os.PathLike[str]) -> Path:
    """Finish a directory swap that a killed process left half done; return ``directory``.

    When ``directory`` is missing but its hidden ``.NAME.old`` sibling exists (the process died
    between moving the old directory aside and moving the new one in), the old one is renamed
    back, so the directory holds its last complete version. When both exist the old one is
    stale and is left for the next save to delete. Readers call this before loading.
    """
    target = Path(directory)
    old = old_dir_path(target)
    if not target.exists() and old.is_dir():
        try:
            os.rename(old, target)
            fsync_dir(target.parent)
        except OSError:
            pass  # a concurrent save put a new one in place, or the medium is read-only
    return target


def clean_stale_siblings(directory: str | os.PathLike[str]) -> None:
    """Remove what killed saves left beside ``directory``: temporaries of dead processes,
    trash, and a stale ``.NAME.old`` (only while ``directory`` itself exists)."""
    target = Path(directory)
    prefix = f".{target.name}"
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        if rest.startswith(_TMP_DIR_TAG):
            pid = rest[len(_TMP_DIR_TAG) :].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                _remove_path(entry)
        elif rest.startswith(_TRASH_DIR_TAG):
            _remove_path(entry)
        elif rest == _OLD_DIR_TAG and target.is_dir():
            _trash(entry, target)


def _carry_over(old: Path, new: Path) -> None:
    """Hard-link (or copy) into ``new`` what ``old`` holds and ``new`` does not (user files)."""
    for entry in old.iterdir():
        dest = new / entry.name
        if dest.exists() or dest.is_symlink():
            continue
        if entry.name.startswith(".") and entry.name.endswith(".tmp"):
            continue  # a temporary file some killed writer left behind
        if entry.is_symlink():
            os.symlink(os.readlink(entry), dest)
        elif entry.is_dir():
            shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(dest))


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def atomic_write_dir(directory: str | os.PathLike[str], fill: Callable[[Path], None]) -> Path:
    """Replace ``directory`` as a whole by what ``fill(tmp)`` writes into an empty directory.

    ``tmp`` is a hidden sibling of ``directory``; once ``fill`` returns, every file and the
    directory are fsynced, ``directory`` (if it exists) is renamed to ``.NAME.old``, ``tmp`` is
    renamed to ``directory`` and the old one is deleted. A reader sees the old or the new
    directory, never a mix; a kill leaves at worst ``.NAME.old`` (restored by
    :func:`recover_dir`) or stray temporaries (removed by the next save). If ``fill`` raises,
    ``directory`` is untouched. Entries of the old directory that ``fill`` did not write (files
    a user put there) are carried over into the new one. Returns ``directory``.

    Concurrent saves to the same directory are not coordinated: the last one wins.
    """
    target = Path(directory)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.exists() and not target.is_dir():
        raise ValueError(f"directory {str(target)!r} exists and is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)
    clean_stale_siblings(target)
    tmp = _sibling(target, f"{_TMP_DIR_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(tmp)
    try:
        if target.is_dir():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        fill(tmp)
        if target.is_dir():
            _carry_over(target, tmp)
        _fsync_tree(tmp)
        old = old_dir_path(target)
        for _attempt in range(5):
            if target.exists():
                if old.exists():  # left by a save that died after its swap; complete but stale
                    _trash(old, target)
                os.rename(target, old)
            try:
                os.rename(tmp, target)
                break
            except OSError:
                if not target.exists():
                    raise
                # A reader restored the old directory between our renames: move it aside again.
        else:
            raise OSError(f"could not move the new {target.name!r} into place: {target} keeps reappearing")
        fsync_dir(target.parent)
    except BaseException:
        _remove_path(tmp)
        recover_dir(target)
        raise
    _trash(old_dir_path(target), target)
    return target


def _read_saved(directory: str | os.PathLike[str], names: tuple[str, ...]) -> dict[str, bytes] | str:
    """Read the files ``names`` of a saved directory, all from one and the same version.

    Returns ``{name: bytes}``, or the name of the first missing file. A half-done swap is
    recovered first (:func:`recover_dir`). The files are opened relative to a descriptor of the
    directory, so a concurrent :func:`atomic_write_dir` cannot hand out one file of the old
    version and another of the new; if the directory is swapped while being opened, it is
    read again.
    """
    directory = Path(directory)
    old = old_dir_path(directory)
    if os.open not in os.supports_dir_fd:  # no dir_fd (Windows): plain paths
        recover_dir(directory)
        for n in names:
            if not (directory / n).is_file():
                return n
        return {n: (directory / n).read_bytes() for n in names}
    for attempt in range(5):
        recover_dir(directory)
        where = directory if directory.is_dir() or not old.is_dir() else old
        try:
            dfd = os.open(where, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except (FileNotFoundError, NotADirectoryError):
            if attempt < 4 and (directory.is_dir() or old.is_dir()):
                continue
            return names[0]
        fds: list[int] = []
        try:
            ino = os.fstat(dfd).st_ino
            for n in names:
                try:
                    fds.append(os.open(n, os.O_RDONLY, dir_fd=dfd))
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    for fd in fds:
                        os.close(fd)
                    fds = []
                    try:
                        swapped = os.stat(directory).st_ino != ino
                    except OSError:
                        swapped = old.is_dir()
                    if attempt < 4 and swapped:
                        break
                    return n
        finally:
            os.close(dfd)
        if not fds:
            continue
        out: dict[str, bytes] = {}
        for n, fd in zip(names, fds):
            with os.fdopen(fd, "rb") as fh:
                out[n] = fh.read()
        return out
    return names[0]


# --------------------------------------------------------------------------- artifacts


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
