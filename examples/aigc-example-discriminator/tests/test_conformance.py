"""The SDK's discriminator conformance suite, pointed at this plugin's network."""

from aigc_sdk.testing import DiscriminatorConformance


class TestMinibatchStdDiscriminator(DiscriminatorConformance):
    network_name = "minibatch-std-d"
    config = {"channels": 4}
    data_shapes = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
