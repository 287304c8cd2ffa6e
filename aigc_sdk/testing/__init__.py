"""Author kit: a conformance suite plugin authors point at their own models and evaluators.

Subclass in your own test module and fill in the class attributes::

    from aigc_sdk.testing import ModelConformance

    class TestMyGAN(ModelConformance):
        model_name = "my-gan"               # the name your plugin registers
        config = {"latent_dim": 8}          # small, fast config

pytest then runs every ``test_*`` method of the suite against your model. Network plugins use
``GeneratorConformance``, ``DiscriminatorConformance``, ``EncoderConformance`` or
``DecoderConformance`` the same way (set ``network_name``, ``config`` and ``data_shapes``). The pytest plugin
(:mod:`aigc_sdk.testing.pytest_plugin`, auto-loaded through the ``pytest11`` entry point)
adds fixtures such as ``aigc_registry`` for isolated registries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigc_sdk.testing.conformance import EvaluatorConformance, ModelConformance
    from aigc_sdk.testing.network_conformance import (
        DecoderConformance,
        DiscriminatorConformance,
        EncoderConformance,
        GeneratorConformance,
    )

_NETWORK_SUITES = (
    "GeneratorConformance",
    "DiscriminatorConformance",
    "EncoderConformance",
    "DecoderConformance",
)


def __getattr__(name: str) -> Any:
    # Lazy so that loading the pytest plugin does not import torch in unrelated test runs.
    if name in ("ModelConformance", "EvaluatorConformance"):
        from aigc_sdk.testing import conformance

        return getattr(conformance, name)
    if name in _NETWORK_SUITES:
        from aigc_sdk.testing import network_conformance

        return getattr(network_conformance, name)
    raise AttributeError(name)


__all__ = [
    "DecoderConformance",
    "DiscriminatorConformance",
    "EncoderConformance",
    "EvaluatorConformance",
    "GeneratorConformance",
    "ModelConformance",
]
