"""Atomic files and directories: a reader sees the old content or the new, never a mix
(see :mod:`aigc_sdk.io`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


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
