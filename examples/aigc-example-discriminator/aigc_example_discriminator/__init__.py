"""A plugin that contributes one network: a discriminator the first-party GANs can train with.

Kept light: the network module (and torch) is imported only when the network is created.
"""

from aigc_sdk import hookimpl

#: The plugin API range this plugin was written for.
AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_discriminators(register):  # type: ignore[no-untyped-def]
    """Register the minibatch-standard-deviation discriminator."""
    register(
        "minibatch-std-d",
        "aigc_example_discriminator.network:MinibatchStdDiscriminator",
        summary="strided-conv discriminator with a minibatch standard-deviation feature (example plugin)",
    )
