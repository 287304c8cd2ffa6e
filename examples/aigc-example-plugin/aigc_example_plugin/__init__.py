"""Hook implementations of the example plugin. Kept light: model code is imported lazily."""

from aigc_sdk import hookimpl

#: The plugin API range this plugin was written for.
AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    """Register the example model."""
    register(
        "example-linear",
        "aigc_example_plugin.model:LinearGaussian",
        summary="linear-Gaussian generator x = W z + b + noise (example plugin)",
        family="linear",
    )


@hookimpl
def register_evaluators(register):  # type: ignore[no-untyped-def]
    """Register the example metric."""
    register("example-mean-gap", "aigc_example_plugin.metric:MeanGap", summary="L2 gap between feature means")
