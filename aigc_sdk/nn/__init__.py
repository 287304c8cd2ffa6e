"""The network toolkit: building blocks, the architecture rule, and components.

* :mod:`aigc_sdk.nn.arch` — which image sizes conv/ResNet networks support and the one rule
  that picks ``conv``, ``resnet`` or ``mlp`` for a data shape;
* :mod:`aigc_sdk.nn.layers` — conv down/up stacks, residual blocks, MLPs, class embedding and
  projection, spectral norm, on top of the fused activation;
* :mod:`aigc_sdk.nn.components` — building a model's generator / discriminator / encoder /
  decoder by registered name and recording where it came from;
* :mod:`aigc_sdk.nn.classifier` — the small CNN classifier that use-cases train on the side
  (feature extractor, pseudo-labelling teacher) and its training steps in a ``FitLoop``.
"""

from __future__ import annotations

from aigc_sdk.nn.arch import (
    ARCHS,
    SUPPORTED_IMAGE_SIZES,
    check_image_shape,
    choose_arch,
    conv_stages,
    is_image_shape,
)
from aigc_sdk.nn.classifier import CNNClassifier, Standardize, is_classifier_image, train_classifier_steps
from aigc_sdk.nn.components import build_component, build_encoder_decoder, parse_component
from aigc_sdk.nn.layers import (
    ClassEmbedding,
    FusedLeakyReLU,
    OneHotCondition,
    ProjectionHead,
    ResBlockDown,
    ResBlockUp,
    down_conv_layers,
    mlp,
    mlp_layers,
    require_condition,
    spectral_normed,
    stage_widths,
    up_conv_layers,
)

__all__ = [
    "ARCHS",
    "SUPPORTED_IMAGE_SIZES",
    "CNNClassifier",
    "ClassEmbedding",
    "FusedLeakyReLU",
    "OneHotCondition",
    "ProjectionHead",
    "ResBlockDown",
    "ResBlockUp",
    "Standardize",
    "build_component",
    "build_encoder_decoder",
    "check_image_shape",
    "choose_arch",
    "conv_stages",
    "down_conv_layers",
    "is_classifier_image",
    "is_image_shape",
    "mlp",
    "mlp_layers",
    "parse_component",
    "require_condition",
    "spectral_normed",
    "stage_widths",
    "train_classifier_steps",
    "up_conv_layers",
]
