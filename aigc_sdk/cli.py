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
import sys
from collections.abc import Sequence

from aigc_sdk._version import API_VERSION, __version__

#: Built-in sub-command modules, in the order ``--help`` lists them.
BUILTIN_COMMANDS = ("plugins", "doctor", "train", "sample", "demo", "eval", "bench")


def _add_plugin_commands(subparsers: argparse._SubParsersAction) -> None:
    """Let installed plugins add sub-commands; a plugin that raises is quarantined."""
    from aigc_sdk.registry import default_registry

    host = default_registry().host
    host.load_entry_points()
    for impl in reversed(host.pm.hook.register_commands.get_hookimpls()):
        try:
            impl.function(subparsers)
        except Exception as exc:
            host.quarantine(impl.plugin_name, "register_commands", exc)


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aigc`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("aigc: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, LookupError, FileNotFoundError, ImportError) as exc:
        # Bad input or a missing optional package: a one-line message, not a traceback.
        if args.verbose:
            raise
        print(f"aigc {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
