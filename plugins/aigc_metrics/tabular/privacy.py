"""Distance to closest record: how near synthetic rows come to the training rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aigc_metrics.tabular.columns import CONTINUOUS, _check_tables, _numeric, column_types


def distance_to_closest_record(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metadata: dict[str, Any] | None = None,
    *,
    holdout: pd.DataFrame | None = None,
    block_size: int = 2048,
) -> dict[str, float]:
    """Distance from each synthetic row to its closest real row (Gower-style: the mean over
    columns of |difference| / real range for continuous columns, 0/1 mismatch for discrete).

    Returns the median, 5th percentile and share of exact copies; with ``holdout`` (real rows
    not used for training) also the holdout's median DCR to ``real`` as a baseline: synthetic
    rows much closer to the training rows than fresh real rows are suspect.
    """
    import torch

    real, synthetic = _check_tables(real, synthetic)
    types = column_types(real, metadata)

    def encode(t: pd.DataFrame) -> np.ndarray:
        parts = []
        for c, kind in types.items():
            if kind in CONTINUOUS:
                ref = _numeric(real[c])
                lo, span = float(ref.min()), float(ref.max() - ref.min()) or 1.0
                parts.append(((_numeric(t[c]) - lo) / span).fillna(0.0).to_numpy()[:, None])
            else:
                cats = sorted(set(real[c].astype(str)) | set(synthetic[c].astype(str)))
                codes = pd.Categorical(t[c].astype(str), categories=cats).codes
                onehot = np.zeros((len(t), len(cats) + 1))
                onehot[np.arange(len(t)), np.where(codes >= 0, codes, len(cats))] = 0.5  # L1 mismatch = 1
                parts.append(onehot)
        return np.hstack(parts)

    ref = torch.from_numpy(encode(real))

    def dcr(t: pd.DataFrame) -> np.ndarray:
        q = torch.from_numpy(encode(t))
        mins = [
            torch.cdist(q[s : s + block_size], ref, p=1).min(1).values for s in range(0, len(q), block_size)
        ]
        return (torch.cat(mins) / len(types)).numpy()

    d = dcr(synthetic)
    out = {
        "dcr_median": float(np.median(d)),
        "dcr_p05": float(np.percentile(d, 5)),
        "exact_match_rate": float((d <= 1e-12).mean()),
    }
    if holdout is not None:
        out["dcr_holdout_median"] = float(np.median(dcr(_check_tables(real, holdout)[1])))
    return out
