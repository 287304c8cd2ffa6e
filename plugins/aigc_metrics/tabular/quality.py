"""The quality score (column shapes + column-pair trends) and the ``tabular-quality`` evaluator."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from aigc_metrics.tabular.pair_trends import column_pair_trends
from aigc_metrics.tabular.shapes import column_shapes


def quality_score(
    real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict[str, Any] | None = None, **pair_options: Any
) -> dict[str, float]:
    """``{"quality", "column_shapes", "column_pair_trends"}``: the overall score is the mean
    of the two property scores, each the mean of its (non-NaN) parts."""
    shapes = np.array(list(column_shapes(real, synthetic, metadata).values()), dtype=float)
    pairs = np.array(
        list(column_pair_trends(real, synthetic, metadata, **pair_options).values()), dtype=float
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of an empty/all-NaN property
        s = float(np.nanmean(shapes)) if shapes.size else float("nan")
        p = float(np.nanmean(pairs)) if pairs.size else float("nan")
        q = float(np.nanmean([s, p]))
    return {"quality": q, "column_shapes": s, "column_pair_trends": p}


class TabularQuality:
    """Streaming tabular quality evaluator: ``update(real=df, fake=df)`` appends rows;
    ``compute()`` returns ``{"quality", "column_shapes", "column_pair_trends"}``.

    (Duck-types :class:`aigc_sdk.interfaces.Evaluator`: tables are DataFrames, not tensors.)
    """

    name: ClassVar[str] = "tabular-quality"
    higher_is_better: ClassVar[dict[str, bool]] = {
        "quality": True,
        "column_shapes": True,
        "column_pair_trends": True,
    }

    def __init__(
        self, metadata: dict[str, Any] | None = None, *, bins: int = 10, pair_bins: str = "per_table"
    ) -> None:
        self.metadata, self.bins, self.pair_bins = metadata, bins, pair_bins
        self.extractor_name = "raw"
        self.reset()

    def reset(self) -> None:
        """Forget the rows seen so far."""
        self._parts: dict[str, list[pd.DataFrame]] = {"real": [], "fake": []}

    def update(self, *, real: pd.DataFrame | None = None, fake: pd.DataFrame | None = None) -> None:
        """Append rows of the real and/or synthetic table."""
        for side, t in (("real", real), ("fake", fake)):
            if t is not None:
                if not isinstance(t, pd.DataFrame):
                    raise ValueError(f"{side} must be a pandas DataFrame, got {type(t).__name__}")
                self._parts[side].append(t)

    def compute(self) -> dict[str, float]:
        """The quality score and its two properties."""
        for side in ("real", "fake"):
            if not self._parts[side]:
                raise ValueError(f"tabular-quality needs {side} rows; call update({side}=...) first")
        real = pd.concat(self._parts["real"], ignore_index=True)
        fake = pd.concat(self._parts["fake"], ignore_index=True)
        return quality_score(real, fake, self.metadata, bins=self.bins, pair_bins=self.pair_bins)
