"""The tables given to the synthesizer: checks, and the preparation of a fit's inputs.

:func:`prepare_fit` turns the training table and :meth:`~aigc_synth.synthesizer.Synthesizer.fit`'s
arguments into what the models are fitted on: the column plan (:mod:`aigc_synth.columns`), the
modelled columns, the categorical ones, the public schema under differential privacy, and the
notes for the report. Every problem is a ``ValueError`` naming the column.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aigc_synth.columns import ColumnPlan, label_candidates
from aigc_synth.transformer import check_schema


@dataclass
class FitInputs:
    """What a fit models, checked."""

    plan: ColumnPlan
    columns: list[str]  # every input column, in order
    frame: pd.DataFrame  # the modelled columns (identifiers out, times as numbers)
    discrete: list[str]  # the categorical ones among them
    schema: dict[str, dict[str, Any]] | None  # the public schema of the modelled columns (DP only)
    notes: list[str]


def prepare_fit(
    data: Any,
    *,
    kind: str,
    discrete_columns: Sequence[str] | None,
    target: str | None,
    schema: dict[str, dict[str, Any]] | None,
    id_columns: Sequence[str] | None,
    id_policy: str,
    private: bool,
) -> FitInputs:
    """Check ``data`` and the fit arguments and plan the columns (see the module docstring).

    Warns (``UserWarning``) about each detected identifier column and, without a ``target`` (and
    not under differential privacy), about a column that looks like a label.
    """
    df = check_frame(data)
    if isinstance(discrete_columns, str):
        raise ValueError("discrete_columns must be a list of column names, not a string")
    if target is not None and target not in df.columns:
        raise ValueError(f"unknown target column {target!r}; columns are {list(df.columns)}")
    plan = ColumnPlan.fit(
        df,
        discrete_columns=discrete_columns,
        target=target,
        id_columns=id_columns,
        id_policy=id_policy,
        private=private,
    )
    if target is not None and target in plan.ids:
        raise ValueError(f"target {target!r} cannot be an id column")
    if not plan.model_columns:
        raise ValueError(
            f"every column is an identifier ({sorted(plan.ids)}): nothing is left to model; "
            "pass id_columns=[] to model them as ordinary columns"
        )
    notes = list(plan.notes)
    if target is None and not private:  # (under DP even a hint read from the rows is not kept)
        labels = label_candidates(df, exclude=[*plan.ids, *plan.times])
        if labels:
            why = (
                "conditioning the model on it usually improves downstream utility (TSTR)"
                if kind == "tvae"
                else "it usually improves downstream utility (TSTR), and evaluate() then measures it"
            )
            msg = (
                f"no target given, but column {labels[0]!r} looks like a label "
                f"({df[labels[0]].nunique()} values); pass target={labels[0]!r}: {why}"
            )
            warnings.warn(msg, UserWarning, stacklevel=3)  # at the caller of Synthesizer.fit
            notes.append(msg)
    columns = [str(c) for c in df.columns]
    df = plan.to_model(df)
    if discrete_columns is not None:
        discrete_columns = [c for c in map(str, discrete_columns) if c not in plan.ids]
    if private:
        if schema is None:
            raise ValueError(
                "schema is required with dp_epsilon: public bounds {'min', 'max'} for numeric columns "
                "and {'categories': [...]} for categorical ones, not read from the data"
            )
        schema = (
            {k: v for k, v in schema.items() if k not in plan.ids} if isinstance(schema, dict) else schema
        )
        check_schema(df, schema)
        from_schema = [str(c) for c in df.columns if "categories" in schema[str(c)]]
        if discrete_columns is not None and sorted(map(str, discrete_columns)) != sorted(from_schema):
            raise ValueError(
                f"discrete_columns {list(discrete_columns)} disagree with the schema's {from_schema}"
            )
        discrete_columns = from_schema
        if target is not None and target not in from_schema:
            raise ValueError(f"target {target!r} must have 'categories' in the schema")
    elif schema is not None:
        raise ValueError("schema is only used with differential privacy (set dp_epsilon)")
    discrete = resolve_discrete(df, discrete_columns, target)
    return FitInputs(plan, columns, df, discrete, schema, notes)


def as_frame(data: Any, what: str) -> pd.DataFrame:
    """``data`` (a DataFrame, else ValueError naming ``what``) with a fresh index and str column names."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    out = data.reset_index(drop=True)
    out.columns = [str(c) for c in out.columns]
    return out


def check_frame(data: Any) -> pd.DataFrame:
    """A copy of the training table ``data`` with str column names; ValueError for an empty frame,
    a single row, duplicate column names or a column without any value."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"data is empty (shape {data.shape})")
    if data.shape[0] < 2:
        raise ValueError("data needs at least 2 rows")
    if len(set(map(str, data.columns))) != data.shape[1]:
        raise ValueError("column names must be unique")
    df = data.reset_index(drop=True).copy()
    df.columns = [str(c) for c in df.columns]
    all_nan = [c for c in df.columns if df[c].isna().all()]
    if all_nan:
        raise ValueError(f"column(s) {all_nan} have only missing values")
    return df


def resolve_discrete(df: pd.DataFrame, discrete: Sequence[str] | None, target: str | None) -> list[str]:
    """The categorical columns of ``df`` in column order: ``discrete`` (default: the non-numeric and
    bool columns) plus the ``target``; ValueError for unknown names, a target with over 50 values or
    a non-numeric column left out."""
    if isinstance(discrete, str):
        raise ValueError("discrete_columns must be a list of column names, not a string")
    if discrete is None:
        out = [
            c
            for c in df.columns
            if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])
        ]
    else:
        out = [str(c) for c in discrete]
        unknown = [c for c in out if c not in df.columns]
        if unknown:
            raise ValueError(f"unknown discrete column(s) {unknown}; columns are {list(df.columns)}")
    if target is not None:
        if target not in df.columns:
            raise ValueError(f"unknown target column {target!r}; columns are {list(df.columns)}")
        if target not in out:
            if df[target].nunique() > 50:
                raise ValueError(
                    f"target {target!r} must be categorical (it has {df[target].nunique()} values)"
                )
            out.append(target)
    for c in df.columns:
        if c not in out and not pd.api.types.is_numeric_dtype(df[c]):
            raise ValueError(f"column {c!r} is not numeric; list it in discrete_columns")
    return [c for c in df.columns if c in out]
