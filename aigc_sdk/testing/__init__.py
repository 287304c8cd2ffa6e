"""Author kit: a conformance suite plugin authors point at their own models and evaluators.

Subclass in your own test module and fill in the class attributes::

    from aigc_sdk.testing import ModelConformance

    class TestMyGAN(ModelConformance):
        model_name = "my-gan"               # the name your plugin registers
        config = {"latent_dim": 8}          # small, fast config

pytest then runs every ``test_*`` method of the suite against your model. Network plugins use
``GeneratorConformance``, ``DiscriminatorConformance``, ``EncoderConformance`` or
``DecoderConformance`` the same way (set ``network_name``, ``config`` and ``data_shapes``); data-set
plugins use ``DatasetConformance`` (``dataset_name``, ``options``) and command plugins
``CommandConformance`` (``command``, ``good_args``, ``bad_args``). The pytest plugin
(:mod:`aigc_sdk.testing.pytest_plugin`, auto-loaded through the ``pytest11`` entry point)
adds fixtures: ``aigc_registry`` and ``aigc_empty_registry`` for isolated registries, and
``aigc_isolated`` to register a plugin module that is not installed and run ``aigc``
against it. :func:`run_aigc` runs the command in-process and captures its output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigc_sdk.testing.cli_runner import CliResult, run_aigc
    from aigc_sdk.testing.conformance import EvaluatorConformance, ModelConformance
    from aigc_sdk.testing.network_conformance import (
        DecoderConformance,
        DiscriminatorConformance,
        EncoderConformance,
        GeneratorConformance,
    )
    from aigc_sdk.testing.plugin_conformance import CommandConformance, DatasetConformance

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
    if name in ("DatasetConformance", "CommandConformance"):
        from aigc_sdk.testing import plugin_conformance

        return getattr(plugin_conformance, name)
    if name in ("run_aigc", "CliResult"):
        from aigc_sdk.testing import cli_runner

        return getattr(cli_runner, name)
    if name in _NETWORK_SUITES:
        from aigc_sdk.testing import network_conformance

        return getattr(network_conformance, name)
    raise AttributeError(name)


__all__ = [
    "CliResult",
    "CommandConformance",
    "DatasetConformance",
    "DecoderConformance",
    "DiscriminatorConformance",
    "EncoderConformance",
    "EvaluatorConformance",
    "GeneratorConformance",
    "ModelConformance",
    "run_aigc",
]
