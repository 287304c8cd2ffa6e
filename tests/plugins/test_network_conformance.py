"""The network conformance suites on every first-party network, at several image sizes."""

from __future__ import annotations

from typing import Any, ClassVar

from aigc_sdk.testing import (
    DecoderConformance,
    DiscriminatorConformance,
    EncoderConformance,
    GeneratorConformance,
)

IMAGES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
VECTORS_AND_FLAT = [(6,), (1, 8, 8)]
SMALL_CONV = {"channels": 4}
SMALL_MLP = {"hidden": 16}


class TestConvGenerator(GeneratorConformance):
    network_name, config, data_shapes = "conv", SMALL_CONV, IMAGES


class TestResNetGenerator(GeneratorConformance):
    network_name, config, data_shapes = "resnet", SMALL_CONV, IMAGES


class TestMLPGenerator(GeneratorConformance):
    network_name, config, data_shapes = "mlp", SMALL_MLP, VECTORS_AND_FLAT


class TestConvDiscriminator(DiscriminatorConformance):
    network_name, config, data_shapes = "conv", SMALL_CONV, IMAGES


class TestConvDiscriminatorWithHidden(DiscriminatorConformance):
    network_name, data_shapes = "conv", IMAGES[:1]
    config: ClassVar[dict[str, Any]] = {"channels": 4, "hidden": 8, "dropout": 0.1, "aux_classifier": True}


class TestResNetDiscriminator(DiscriminatorConformance):
    network_name, config, data_shapes = "resnet", SMALL_CONV, IMAGES


class TestMLPDiscriminator(DiscriminatorConformance):
    network_name, config, data_shapes = "mlp", SMALL_MLP, VECTORS_AND_FLAT


class TestConvEncoder(EncoderConformance):
    network_name, data_shapes = "conv", IMAGES
    config: ClassVar[dict[str, Any]] = {"channels": 4, "hidden": 16}


class TestResNetEncoder(EncoderConformance):
    network_name, data_shapes = "resnet", IMAGES
    config: ClassVar[dict[str, Any]] = {"channels": 4, "hidden": 16}


class TestMLPEncoder(EncoderConformance):
    network_name, config, data_shapes = "mlp", SMALL_MLP, VECTORS_AND_FLAT


class TestConvDecoder(DecoderConformance):
    network_name, data_shapes = "conv", IMAGES
    config: ClassVar[dict[str, Any]] = {"channels": 4, "hidden": 16}


class TestResNetDecoder(DecoderConformance):
    network_name, data_shapes = "resnet", IMAGES
    config: ClassVar[dict[str, Any]] = {"channels": 4, "hidden": 16}


class TestMLPDecoder(DecoderConformance):
    network_name, config, data_shapes = "mlp", SMALL_MLP, VECTORS_AND_FLAT


def test_every_first_party_network_is_covered() -> None:
    import aigc_sdk

    covered = {
        kind: {
            c.network_name
            for c in globals().values()
            if isinstance(c, type) and getattr(c, "kind", "") == kind
        }
        for kind in ("generator", "discriminator", "encoder", "decoder")
    }
    for kind, names in covered.items():
        first_party = {
            n
            for n in aigc_sdk.list_networks(kind)
            if aigc_sdk.registry.get_network_registration(kind, n).distribution == "aigc-sdk"
        }
        assert first_party <= names, f"{kind}s without a conformance test: {sorted(first_party - names)}"
