"""First-party evaluators (metrics) and feature extractors.

This module must stay light (no torch, no scipy): it only names where each thing lives, and
the registry imports the target when it is created.
"""

from __future__ import annotations

from aigc_sdk import hookimpl

AIGC_SDK_API = ">=1,<2"

_EVALUATORS = [
    # name, target, summary, higher_is_better
    ("fid", "aigc_metrics.fid:FID", "Frechet distance between feature Gaussians (float64, streaming)", False),
    (
        "kid",
        "aigc_metrics.kid:KID",
        "Kernel inception distance: unbiased MMD^2, cubic kernel, seeded subsets of min(1000, n/2)",
        False,
    ),
    (
        "is",
        "aigc_metrics.inception_score:InceptionScore",
        "Inception-style score from a classifier softmax",
        True,
    ),
    (
        "cas",
        "aigc_metrics.cas:CAS",
        "Classification accuracy score of conditional samples (data set classifier)",
        True,
    ),
    (
        "prc",
        "aigc_metrics.prdc:PrecisionRecall",
        "Improved precision/recall (Kynkaanniemi et al., k=3)",
        True,
    ),
    ("dc", "aigc_metrics.prdc:DensityCoverage", "Density/coverage (Naeem et al., k=5)", True),
    ("prdc", "aigc_metrics.prdc:PRDC", "Precision, recall, density and coverage in one pass", True),
    (
        "swd",
        "aigc_metrics.sliced_wasserstein:SlicedWasserstein",
        "Sliced Wasserstein distance (seeded)",
        False,
    ),
    ("tabular-quality", "aigc_metrics.tabular:TabularQuality", "Column shapes + column-pair trends", True),
    ("anomaly", "aigc_metrics.anomaly:AnomalyMetrics", "ROC-AUC, average precision, precision@k", True),
    ("recommend", "aigc_metrics.recommend:RankingMetrics", "Recall@K and NDCG@K (Liang et al. 2018)", True),
    (
        "iwae",
        "aigc_metrics.iwae:IWAE",
        "Importance-weighted NLL of held-out data (likelihood models): nats/sample, bits/dim",
        False,
    ),
]

# What each evaluator consumes (aigc_sdk.evaluate reads this): extractor features by default.
_INPUTS = {
    "is": "samples",
    "cas": "conditional",
    "tabular-quality": "tables",
    "anomaly": "scores",
    "recommend": "rankings",
    "iwae": "likelihood",
}

_EXTRACTORS = [
    (
        "classifier",
        "aigc_metrics.classifier:ClassifierExtractor",
        "Small classifier trained (seeded, cached) on the data set's labelled train split",
    ),
    (
        "random-conv",
        "aigc_metrics.random_conv:RandomConvExtractor",
        "Randomly initialised conv net, fixed seed",
    ),
    ("raw", "aigc_metrics.raw:RawExtractor", "Raw pixels / columns, flattened"),
]


@hookimpl
def register_evaluators(register):  # type: ignore[no-untyped-def]
    """Register the SDK's metrics."""
    for name, target, summary, higher in _EVALUATORS:
        register(name, target, summary=summary, higher_is_better=higher, inputs=_INPUTS.get(name, "features"))


@hookimpl
def register_feature_extractors(register):  # type: ignore[no-untyped-def]
    """Register the SDK's feature extractors."""
    for name, target, summary in _EXTRACTORS:
        register(name, target, summary=summary)
