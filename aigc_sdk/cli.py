"""The ``aigc`` command: a thin layer over the public API.

Each sub-command lives in :mod:`aigc_sdk.commands` and adds itself with
``add_parser(subparsers)``; installed plugins may add more through the
``register_commands`` hook. Heavy imports (torch, models) happen inside the handlers,
so ``aigc --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from aigc_sdk._version import API_VERSION, __version__

#: Built-in sub-command modules, in the order ``--help`` lists them.
BUILTIN_COMMANDS = ("plugins", "doctor", "train", "sample", "demo", "eval", "bench")


def _add_plugin_commands(subparsers: argparse._SubParsersAction) -> None:
    """Let installed plugins add sub-commands; a plugin that raises is quarantined."""
    from aigc_sdk.registry import default_registry

    host = default_registry().loaded_host()
    host.call_hook("register_commands", subparsers=_AttributingSubparsers(subparsers, host))


class _AttributingSubparsers:
    """The sub-parsers object as plugins see it: ``add_parser`` records which plugin added
    which command (for ``aigc plugins``); everything else goes to argparse unchanged."""

    def __init__(self, subparsers: argparse._SubParsersAction, host: Any) -> None:
        self._subparsers, self._host = subparsers, host

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        from aigc_sdk.plugins import running_plugin

        parser = self._subparsers.add_parser(name, **kwargs)
        info = self._host.plugins.get(running_plugin() or "")
        if info is not None:
            info.registered.setdefault("command", []).append(name)
            info.summaries.setdefault("command", {})[name] = str(kwargs.get("help") or "")
        return parser

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._subparsers, attr)


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``aigc`` argument parser (built-ins plus plugin commands)."""
    parser = argparse.ArgumentParser(
        prog="aigc",
        description="aigc-sdk: train, sample and evaluate generative models (GAN, VAE, AE) through plugins.",
    )
    parser.add_argument(
        "--version", action="version", version=f"aigc-sdk {__version__} (plugin API {API_VERSION})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the full traceback of an error (also: env AIGC_SDK_DEBUG=1)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in BUILTIN_COMMANDS:
        try:
            module = importlib.import_module(f"aigc_sdk.commands.{name}")
        except ModuleNotFoundError as exc:  # a command whose module is not part of this build
            if exc.name != f"aigc_sdk.commands.{name}":
                raise
            continue
        module.add_parser(subparsers)
    _add_plugin_commands(subparsers)
    return parser


def debug_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether env ``AIGC_SDK_DEBUG`` asks for tracebacks: yes for 1/true/yes/on (any case), else no."""
    from aigc_sdk.env import env_flag

    return env_flag("AIGC_SDK_DEBUG", environ)


def exit_code_for(exc: BaseException) -> int:
    """The exit code :func:`main` gives an exception: 2 for usage errors, 1 for runtime failures.

    Usage errors (2) are :class:`~aigc_sdk.errors.UsageError` and the ValueError / TypeError /
    LookupError that argument and config checks raise. Runtime failures (1) are everything else:
    OSError (files missing, unwritable, corrupt), RuntimeError (torch, mismatching weights),
    MemoryError, ImportError (a missing optional package), safetensors errors, ...
    """
    from aigc_sdk.errors import CorruptFileError, ModelMismatchError, UsageError

    if isinstance(exc, UsageError):
        return 2
    if isinstance(exc, (CorruptFileError, ModelMismatchError, UnicodeError)):
        return 1
    if isinstance(exc, (ValueError, TypeError, LookupError)):
        return 2
    return 1


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: its message with newlines folded, prefixed with the type for non-SDK errors."""
    from aigc_sdk.errors import AigcError

    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and not isinstance(exc, AigcError) and len(exc.args) == 1:
        text = f"key {exc.args[0]!r} not found"
    if isinstance(exc, (AigcError, ValueError, OSError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _command_name(args: argparse.Namespace) -> str:
    """``"synth fit"`` for ``aigc synth fit ...``: the command and its action, if it has one."""
    name = str(args.command)
    for key, value in vars(args).items():
        if (
            key != "command"
            and (key.endswith("_command") or key.endswith("_target"))
            and isinstance(value, str)
        ):
            return f"{name} {value}"
    return name


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aigc`` console script; returns the exit code.

    Errors are reported on one line, ``aigc COMMAND: error: MESSAGE (run with --debug for the
    traceback)``, with exit code 2 for usage errors (bad arguments or values: argparse's own,
    :class:`~aigc_sdk.errors.UsageError`, ValueError / TypeError / LookupError from argument
    and config checks) and 1 for runtime failures (OSError, RuntimeError, MemoryError, corrupt
    files, missing packages, anything else). ``--debug`` or ``AIGC_SDK_DEBUG=1`` (also
    true/yes/on) print the full traceback as well. Ctrl-C exits with 130.
    """
    previous = _mark_user_interrupts()
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _mark_user_interrupts() -> Any:
    """Install a SIGINT handler that records a real Ctrl-C before raising KeyboardInterrupt,
    so the plugin host can tell it apart from a KeyboardInterrupt raised by plugin code."""
    from aigc_sdk.plugins import note_user_interrupt

    def on_sigint(signum: int, frame: Any) -> None:
        note_user_interrupt()
        raise KeyboardInterrupt

    on_sigint.__aigc_sdk_marks_interrupts__ = True  # type: ignore[attr-defined]
    try:
        return signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: leave SIGINT alone
        return None


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(args.debug) or debug_from_env()
    level = logging.DEBUG if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("aigc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        code = exit_code_for(exc)
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"aigc {_command_name(args)}: error: {one_line(exc)}{hint}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
