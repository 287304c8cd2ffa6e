"""Format tags and file names every saved artifact shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


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
