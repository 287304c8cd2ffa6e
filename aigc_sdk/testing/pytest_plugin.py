"""pytest plugin shipped with aigc-sdk (entry point ``pytest11``).

Fixtures:

``aigc_registry``
    A fresh :class:`aigc_sdk.registry.Registry` that has loaded the installed plugins,
    installed as the process-wide default for the duration of the test.
``aigc_empty_registry``
    The same, but with no plugin loaded: register plugin objects by hand with
    ``aigc_empty_registry.host.register(obj)``.
``aigc_isolated``
    An isolated host for a plugin that is not installed (what ``pytester`` is to pytest
    plugin authors): ``aigc_isolated.register("my_plugin.hooks")`` registers a module (by
    name or object), ``aigc_isolated.load_installed()`` adds the installed plugins when yours
    builds on them, and ``aigc_isolated.run("my-command", "--flag")`` runs the ``aigc``
    command in-process against that host, returning exit code and output.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest


def _swap_default(registry: Any) -> Iterator[Any]:
    from aigc_sdk import registry as reg_mod

    previous = reg_mod._default
    reg_mod._default = registry
    try:
        yield registry
    finally:
        reg_mod._default = previous


@pytest.fixture
def aigc_registry() -> Iterator[Any]:
    """A fresh registry over the installed plugins, used as the default during the test."""
    from aigc_sdk.registry import Registry

    yield from _swap_default(Registry())


@pytest.fixture
def aigc_empty_registry() -> Iterator[Any]:
    """A registry that discovers nothing; register plugins by hand."""
    from aigc_sdk.registry import Registry

    yield from _swap_default(Registry(autoload=False))


class IsolatedHost:
    """A registry of its own, the default while the test runs; see ``aigc_isolated``."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def register(self, plugin: Any) -> Any:
        """Register a plugin module (object or dotted name) or object; return its PluginInfo.

        A plugin that fails to register is quarantined, as it would be when installed: check
        ``info.status`` and ``info.error``.
        """
        if isinstance(plugin, str):
            plugin = importlib.import_module(plugin)
        info = self.registry.host.register(plugin)
        self.registry.invalidate()
        return info

    def load_installed(self) -> None:
        """Also load every installed plugin (the first-party ones included)."""
        self.registry.host.load_entry_points()
        self.registry.invalidate()

    def run(self, *args: str) -> Any:
        """Run ``aigc ARGS...`` in-process against this host; returns a CliResult."""
        from aigc_sdk.testing.cli_runner import run_aigc

        return run_aigc(*args)


@pytest.fixture
def aigc_isolated() -> Iterator[IsolatedHost]:
    """An isolated plugin host with nothing loaded, for testing an uninstalled plugin."""
    from aigc_sdk.registry import Registry

    for registry in _swap_default(Registry(autoload=False)):
        yield IsolatedHost(registry)
