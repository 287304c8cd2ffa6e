"""The SDK's conformance suite, pointed at this plugin's model and metric."""

from aigc_sdk.testing import EvaluatorConformance, ModelConformance


class TestLinearGaussian(ModelConformance):
    model_name = "example-linear"
    config = {"data_dim": 6, "latent_dim": 2}
    sample_shape = (6,)


class TestMeanGap(EvaluatorConformance):
    evaluator_name = "example-mean-gap"
