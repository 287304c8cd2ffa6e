"""The model conformance suite (what plugin authors run) on every first-party model."""

from __future__ import annotations

from typing import Any, ClassVar

from aigc_sdk.testing import ModelConformance

SMALL: dict[str, Any] = {"data_shape": [1, 8, 8], "channels": 4, "hidden": 16, "latent_dim": 4}


class TestGAN(ModelConformance):
    model_name, config = "gan", SMALL


class TestConditionalGAN(ModelConformance):
    model_name = "cgan"
    config: ClassVar[dict[str, Any]] = {**SMALL, "num_classes": 3}


class TestResNetGAN(ModelConformance):
    model_name = "gan"
    config: ClassVar[dict[str, Any]] = {**SMALL, "arch": "resnet"}


class TestVAE(ModelConformance):
    model_name, config = "vae", SMALL


class TestConditionalVAE(ModelConformance):
    model_name = "cvae"
    config: ClassVar[dict[str, Any]] = {**SMALL, "num_classes": 3}


class TestVectorVAE(ModelConformance):
    model_name = "vae"
    config: ClassVar[dict[str, Any]] = {"data_shape": [5], "hidden": 16, "latent_dim": 2}


class TestAE(ModelConformance):
    model_name, config = "ae", SMALL


class TestDenoisingAE(ModelConformance):
    model_name = "dae"
    config: ClassVar[dict[str, Any]] = {**SMALL, "arch": "resnet"}
