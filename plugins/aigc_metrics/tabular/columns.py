"""Column types (SDMetrics sdtypes) and the table checks every tabular metric shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CONTINUOUS = {"numerical", "datetime"}


DISCRETE = {"categorical", "boolean"}


def column_types(real: pd.DataFrame, metadata: dict[str, Any] | None = None) -> dict[str, str]:
    """Map each column to its sdtype (see module docstring)."""
    if metadata is not None:
        cols = metadata.get("columns", metadata)
        out = {c: (m["sdtype"] if isinstance(m, dict) else m) for c, m in cols.items()}
        bad = {c: t for c, t in out.items() if t not in CONTINUOUS | DISCRETE}
        if bad:
            raise ValueError(
                f"metadata has unsupported sdtypes {bad}; use numerical, datetime, categorical, boolean"
            )
        missing = [c for c in out if c not in real.columns]
        if missing:
            raise ValueError(f"metadata names columns missing from the real table: {missing}")
        return out
    out = {}
    for c in real.columns:
        s = real[c]
        if pd.api.types.is_bool_dtype(s):
            out[c] = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[c] = "datetime"
        elif pd.api.types.is_numeric_dtype(s):
            out[c] = "numerical"
        else:
            out[c] = "categorical"
    return out


def _check_tables(real: Any, synthetic: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    for arg, t in (("real", real), ("synthetic", synthetic)):
        if not isinstance(t, pd.DataFrame):
            raise ValueError(f"{arg} must be a pandas DataFrame, got {type(t).__name__}")
        if len(t) == 0:
            raise ValueError(f"{arg} is empty")
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        raise ValueError(f"synthetic lacks columns of real: {missing}")
    return real, synthetic[list(real.columns)]


def _numeric(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(s.values.astype("datetime64[ns]").astype(np.int64), index=s.index).where(s.notna())
    return pd.to_numeric(s, errors="coerce").astype(float)
