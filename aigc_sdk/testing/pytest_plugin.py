"""pytest plugin shipped with aigc-sdk (entry point ``pytest11``).

Fixtures:

``aigc_registry``
    A fresh :class:`aigc_sdk.registry.Registry` that has loaded the installed plugins,
    installed as the process-wide default for the duration of the test.
``aigc_empty_registry``
    The same, but with no plugin loaded: register plugin objects by hand with
    ``aigc_empty_registry.host.register(obj)``.
"""

from __future__ import annotations

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
