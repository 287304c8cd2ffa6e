"""Synthetic-table quality: column shapes, column-pair trends, detection, ML efficacy and
distance to closest record.

Column types follow SDMetrics' "sdtypes": ``numerical`` and ``datetime`` columns are
continuous, ``categorical`` and ``boolean`` ones discrete. ``metadata`` is either
``{column: sdtype}``, SDMetrics' ``{"columns": {column: {"sdtype": ...}}}``, or ``None``
(inferred: bool -> boolean, numbers -> numerical, everything else -> categorical).

The quality score (mean of the column-shapes and column-pair-trends scores) follows
SDMetrics' QualityReport definitions, including one of its conventions: for a
continuous/discrete column pair, the continuous column is cut into 10 equal-width bins
computed *separately* on each table (``pair_bins="per_table"``); ``pair_bins="real"``
applies the real table's edges to both, which is the stricter comparison.

One module per metric family: :mod:`.columns`, :mod:`.shapes`, :mod:`.pair_trends`,
:mod:`.quality`, :mod:`.detection`, :mod:`.efficacy`, :mod:`.privacy`; everything public is
imported here.
"""

from __future__ import annotations

from aigc_metrics.tabular.columns import CONTINUOUS, DISCRETE, column_types
from aigc_metrics.tabular.detection import TableEncoder, detection_score
from aigc_metrics.tabular.efficacy import ml_efficacy
from aigc_metrics.tabular.pair_trends import (
    SDMETRICS_PAIR_THRESHOLDS,
    column_pair_trends,
    contingency_similarity,
    correlation_similarity,
)
from aigc_metrics.tabular.privacy import distance_to_closest_record
from aigc_metrics.tabular.quality import TabularQuality, quality_score
from aigc_metrics.tabular.shapes import column_shapes, ks_complement, tv_complement

__all__ = [
    "CONTINUOUS",
    "DISCRETE",
    "SDMETRICS_PAIR_THRESHOLDS",
    "TableEncoder",
    "TabularQuality",
    "column_pair_trends",
    "column_shapes",
    "column_types",
    "contingency_similarity",
    "correlation_similarity",
    "detection_score",
    "distance_to_closest_record",
    "ks_complement",
    "ml_efficacy",
    "quality_score",
    "tv_complement",
]
