"""Environment switches, read one way everywhere.

Flags (``AIGC_SDK_DEBUG``, ``AIGC_SDK_TRACE_PLUGINS``, ``AIGC_SDK_DISABLE_EXT``): ``1``, ``true``,
``yes``, ``on`` turn them on and ``0``, ``false``, ``no``, ``off`` or an empty value leave them off,
in any case and with surrounding spaces; anything else is warned about and read as off.

Name lists (``AIGC_SDK_PLUGINS``, ``AIGC_SDK_DISABLE_PLUGINS``): comma-separated, spaces and empty
items ignored, compared case-insensitively with ``-`` and ``_`` alike (``aigc-gan`` matches
``aigc_gan``); an empty value is the same as unset.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping

log = logging.getLogger("aigc_sdk")

_ON = ("1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off")


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the switch ``name`` is on (see the module docstring for the accepted values)."""
    value = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if value in _ON:
        return True
    if value not in _OFF:
        log.warning(
            "aigc_sdk: %s=%r is not one of 1/true/yes/on or 0/false/no/off; reading it as off", name, value
        )
    return False


def normalise_name(name: str) -> str:
    """A plugin or distribution name in the form lists compare: lower case, ``_`` for ``-``."""
    return name.strip().lower().replace("-", "_")


def env_names(name: str, environ: Mapping[str, str] | None = None) -> set[str] | None:
    """The normalised names listed in ``name``, or ``None`` when it is unset or empty."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return None
    names = {normalise_name(part) for part in raw.split(",") if part.strip()}
    return names or None


def warn_unknown_names(name: str, listed: set[str] | None, known: Iterable[str]) -> None:
    """Warn about names in the list ``name`` that match no installed plugin or distribution."""
    if not listed:
        return
    unknown = sorted(listed - {normalise_name(k) for k in known})
    if unknown:
        log.warning("aigc_sdk: %s names no installed plugin or distribution: %s", name, ", ".join(unknown))
