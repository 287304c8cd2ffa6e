"""aigc-sdk: a plugin-based SDK for generative models (GAN, VAE, AE) on PyTorch.

Importing this package is cheap: it imports neither torch nor any plugin. The public API
below is resolved on first use::

    import aigc_sdk
    aigc_sdk.list_models()
    model = aigc_sdk.create_model("cgan", dataset="mnist5k")
    data = aigc_sdk.load_dataset("digits")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aigc_sdk._version import API_VERSION, __version__
from aigc_sdk.hookspecs import hookimpl

# name -> module that defines it; imported lazily by __getattr__ (PEP 562).
_LAZY = {
    # registry
    "plugin_manager": "aigc_sdk.registry",
    "list_models": "aigc_sdk.registry",
    "create_model": "aigc_sdk.registry",
    "list_evaluators": "aigc_sdk.registry",
    "get_evaluator": "aigc_sdk.registry",
    "list_feature_extractors": "aigc_sdk.registry",
    "get_feature_extractor": "aigc_sdk.registry",
    "list_datasets": "aigc_sdk.registry",
    "load_dataset": "aigc_sdk.registry",
    "list_use_cases": "aigc_sdk.registry",
    "get_use_case": "aigc_sdk.registry",
    "list_networks": "aigc_sdk.registry",
    "create_network": "aigc_sdk.registry",
    # evaluation
    "evaluate": "aigc_sdk.evaluation",
    # save / load
    "load": "aigc_sdk.io",
    "save_model": "aigc_sdk.io",
    "load_use_case": "aigc_sdk.io",
    # interfaces
    "Generator": "aigc_sdk.interfaces",
    "Discriminator": "aigc_sdk.interfaces",
    "Encoder": "aigc_sdk.interfaces",
    "Decoder": "aigc_sdk.interfaces",
    "ScoringDiscriminator": "aigc_sdk.interfaces",
    "GenerativeModel": "aigc_sdk.interfaces",
    "Evaluator": "aigc_sdk.interfaces",
    "FeatureExtractor": "aigc_sdk.interfaces",
    "DatasetProvider": "aigc_sdk.interfaces",
    "UseCase": "aigc_sdk.interfaces",
    # errors
    "AigcError": "aigc_sdk.errors",
    "UnknownNameError": "aigc_sdk.errors",
    "PluginConflictError": "aigc_sdk.errors",
    "PluginLoadError": "aigc_sdk.errors",
}

if TYPE_CHECKING:
    from aigc_sdk.errors import AigcError, PluginConflictError, PluginLoadError, UnknownNameError
    from aigc_sdk.evaluation import evaluate
    from aigc_sdk.interfaces import (
        DatasetProvider,
        Decoder,
        Discriminator,
        Encoder,
        Evaluator,
        FeatureExtractor,
        GenerativeModel,
        Generator,
        ScoringDiscriminator,
        UseCase,
    )
    from aigc_sdk.io import load, load_use_case, save_model
    from aigc_sdk.registry import (
        create_model,
        create_network,
        get_evaluator,
        get_feature_extractor,
        get_use_case,
        list_datasets,
        list_evaluators,
        list_feature_extractors,
        list_models,
        list_networks,
        list_use_cases,
        load_dataset,
        plugin_manager,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aigc_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "API_VERSION",
    "AigcError",
    "DatasetProvider",
    "Decoder",
    "Discriminator",
    "Encoder",
    "Evaluator",
    "FeatureExtractor",
    "GenerativeModel",
    "Generator",
    "PluginConflictError",
    "PluginLoadError",
    "ScoringDiscriminator",
    "UnknownNameError",
    "UseCase",
    "__version__",
    "create_model",
    "create_network",
    "evaluate",
    "get_evaluator",
    "get_feature_extractor",
    "get_use_case",
    "hookimpl",
    "list_datasets",
    "list_evaluators",
    "list_feature_extractors",
    "list_models",
    "list_networks",
    "list_use_cases",
    "load",
    "load_dataset",
    "load_use_case",
    "plugin_manager",
    "save_model",
]
