"""Exceptions raised by the SDK core. All derive from :class:`AigcError`."""

from __future__ import annotations


class AigcError(Exception):
    """Base class of every error the SDK raises on purpose."""


class UnknownNameError(AigcError, KeyError):
    """A model, evaluator, data set, ... name that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, available: list[str], closest: str | None) -> None:
        self.kind, self.name, self.available, self.closest = kind, name, available, closest
        hint = f" Did you mean {closest!r}?" if closest else ""
        listing = ", ".join(available) if available else "(none: is a plugin quarantined? run `aigc doctor`)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Available {kind}s: {listing}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class PluginConflictError(AigcError, LookupError):
    """Two plugins registered the same name; neither is picked silently."""


class PluginLoadError(AigcError):
    """A plugin could not be imported or registered (it is quarantined, not fatal)."""


class UsageError(AigcError, ValueError):
    """A bad argument or value given by the user; the ``aigc`` command exits with code 2.

    The message names the argument and what was expected, e.g. ``"--out x: exists and is a file"``.
    """


class CorruptFileError(AigcError, OSError):
    """A saved file exists but cannot be read back (truncated, garbage, crafted); exit code 1."""

    def __str__(self) -> str:  # OSError would otherwise format (errno, strerror) pairs
        return str(self.args[0]) if self.args else ""


class ModelMismatchError(AigcError, RuntimeError):
    """Saved weights that do not match the model ``config.json`` describes; exit code 1."""
