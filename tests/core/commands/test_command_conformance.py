"""The command author suite, run on the first-party plugin commands, and the isolated host
fixture run on a plugin module that is not installed."""

from __future__ import annotations

import sys
import types

from aigc_sdk.hookspecs import hookimpl
from aigc_sdk.testing import CommandConformance


class TestAnomalyCommand(CommandConformance):
    command = "anomaly"
    good_args = ("fit", "--help")


class TestSynthCommand(CommandConformance):
    command = "synth"
    good_args = ("fit", "--help")
    bad_args = ("fit", "--no-such-flag-xyz")


class TestRecommendCommand(CommandConformance):
    command = "recommend"
    good_args = ("fit", "--help")


class TestAugmentCommand(CommandConformance):
    command = "augment"
    good_args = ("--help",)


def _hello_plugin() -> types.ModuleType:
    module = types.ModuleType("hello_plugin")

    def run(args):  # type: ignore[no-untyped-def]
        print(f"hello {args.who}")
        return 0

    @hookimpl
    def register_commands(subparsers):  # type: ignore[no-untyped-def]
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("who")
        p.set_defaults(func=run)

    @hookimpl
    def register_model(register):  # type: ignore[no-untyped-def]  # misspelt on purpose
        pass

    module.register_commands = register_commands  # type: ignore[attr-defined]
    return module


def test_isolated_host_registers_an_uninstalled_module_and_runs_its_command(aigc_isolated) -> None:  # type: ignore[no-untyped-def]
    module = _hello_plugin()
    sys.modules["hello_plugin"] = module
    try:
        info = aigc_isolated.register("hello_plugin")
    finally:
        del sys.modules["hello_plugin"]
    assert info.status == "loaded", info.error
    result = aigc_isolated.run("hello", "world")
    assert result.ret == 0 and result.stdout.strip() == "hello world"
    assert aigc_isolated.run("hello").ret == 2  # missing argument: a usage error
    assert "anomaly" not in aigc_isolated.run("--help").stdout  # installed plugins are not loaded
    listing = aigc_isolated.run("plugins").stdout
    assert "command hello: say hello" in listing  # who adds which command, with its help


def test_isolated_host_reports_a_broken_module(aigc_isolated) -> None:  # type: ignore[no-untyped-def]
    module = types.ModuleType("typo_plugin")

    @hookimpl
    def register_model(register):  # type: ignore[no-untyped-def]
        pass

    module.register_model = register_model  # type: ignore[attr-defined]
    info = aigc_isolated.register(module)
    assert info.status == "quarantined" and "register_models" in (info.error or "")
    aigc_isolated.load_installed()
    assert "gan" in aigc_isolated.registry.list_names("model")
