"""Which columns of a table are features: label / ID detection at fit, alignment at scoring.

A label left in the training table would be learned as a feature (and leak the answer into the
score); a row ID or saved pandas index is noise that makes every new row look unusual. So
:func:`split_columns` drops columns declared as label / ID / excluded, and by default also those
that look like one, with a :class:`ExcludedColumnsWarning` naming them. :func:`align_columns`
makes a scoring table match the fitted feature columns: it drops the columns excluded at fit,
reorders, and names missing and extra columns instead of failing on a shape.

pandas is never imported here: frames are recognised by their ``columns`` / ``to_numpy``.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Column names (lower-cased, non-alphanumerics removed) that look like a ground-truth label.
LABEL_NAMES = frozenset(
    {
        "label",
        "labels",
        "truelabel",
        "groundtruth",
        "target",
        "class",
        "y",
        "fraud",
        "isfraud",
        "anomaly",
        "isanomaly",
        "anomalous",
        "outlier",
        "isoutlier",
    }
)
#: Column names (same normalisation) that look like a row identifier.
ID_NAMES = frozenset({"id", "uuid", "guid", "index", "idx", "rowid", "rownum", "rownumber", "recordid"})
#: A label has at most this many distinct values (binary, or a handful of classes).
LABEL_MAX_CLASSES = 20
#: Value-based ID detection (a unique consecutive integer column) needs at least this many rows,
#: so a short table's small-integer feature is not mistaken for a row number.
ID_MIN_ROWS = 10

_ID_SUFFIX = re.compile(r"[ _.\-]id$", re.IGNORECASE)  # customer_id, txn-id, "order id"
_CAMEL_ID = re.compile(r"[a-z0-9]I[Dd]$")  # customerId, TransactionID (but not "paid", "valid")
_UNNAMED = re.compile(r"^Unnamed: ?\d+$")  # what pandas names an index column written to CSV


class ExcludedColumnsWarning(UserWarning):
    """Columns that look like labels or IDs were left out of the features.

    ``reasons`` maps each such column to why it was taken for a label or an ID.
    """

    def __init__(self, message: str, reasons: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reasons = dict(reasons or {})


@dataclass
class ColumnRoles:
    """The outcome of :func:`split_columns`: feature columns and what was left out, and why."""

    features: list[str]
    label: str | None = None
    ids: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # every dropped column, in table order
    reasons: dict[str, str] = field(default_factory=dict)  # auto-detected column -> why

    def metadata(self) -> dict[str, Any]:
        """JSON-serialisable record kept in the saved detector and its report."""
        return {"label": self.label, "ids": list(self.ids), "excluded": list(self.excluded)}


def is_frame(data: Any) -> bool:
    """Whether ``data`` is a pandas-like DataFrame (without importing pandas)."""
    return hasattr(data, "columns") and hasattr(data, "to_numpy") and hasattr(data, "dtypes")


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _names(value: str | Sequence[str] | None, arg: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{arg} must be a column name or a list of names, got {value!r}")
    return list(value)


def format_names(names: Sequence[str], limit: int = 20) -> str:
    """``['a', 'b']``; long lists are cut after ``limit`` names with the total count."""
    names = list(names)
    if len(names) <= limit:
        return repr(names)
    return repr(names[:limit])[:-1] + f", ... ({len(names)} in all)]"


def _label_reason(name: str, column: Any) -> str | None:
    """Why ``column`` looks like a label, or None: a label-like name AND few distinct values."""
    if _key(name) not in LABEL_NAMES:
        return None
    values = column.dropna()
    n = int(values.nunique())
    kind = column.dtype.kind
    if kind == "f" and not np.all(np.mod(values.to_numpy(dtype=np.float64), 1) == 0):
        return None  # a continuous "y" is a coordinate, not a class
    if n <= 2:
        return "label-like name, binary"
    if n <= LABEL_MAX_CLASSES:
        return f"label-like name, {n} classes"
    return None


def _id_reason(name: str, column: Any) -> str | None:
    """Why ``column`` looks like an ID, or None: an ID-like name, or unique consecutive integers."""
    if _key(name) in ID_NAMES or _ID_SUFFIX.search(name) or _CAMEL_ID.search(name):
        return "ID-like name"
    if _UNNAMED.match(name):
        return "saved pandas index"
    if column.dtype.kind in "iu" and len(column) >= ID_MIN_ROWS and not column.hasnans:
        v = column.to_numpy()
        # unique and filling exactly [min, max]: a row number, shuffled or not
        if int(v.max()) - int(v.min()) == len(v) - 1 and len(np.unique(v)) == len(v):
            return "unique consecutive integers"
    return None


def _check_unique(names: list[str], where: str) -> None:
    dup = sorted(n for n, k in Counter(names).items() if k > 1)
    if dup:
        raise ValueError(f"{where}: input has duplicate column name(s) {dup}; rename them first")


def split_columns(
    frame: Any,
    *,
    label_column: str | None = None,
    id_columns: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    detect: bool = True,
) -> ColumnRoles:
    """Decide which columns of a DataFrame are features.

    Declared columns (``label_column``, ``id_columns``, ``exclude``) are always dropped and must
    exist. With ``detect=True`` the remaining columns are also checked: a label-like name
    (``label``, ``target``, ``class``, ``y``, ``is_fraud``, ``Class``, ...) with at most
    :data:`LABEL_MAX_CLASSES` distinct integer / categorical values is taken as the label (the
    first one, if no label was declared; further ones are just excluded); an ID-like name (``id``,
    ``*_id``, ``uuid``, ``index``, ``Unnamed: 0``, ...) or an integer column whose values are
    unique and consecutive is taken as an ID. Auto-detected columns are named in one
    :class:`ExcludedColumnsWarning`.

    Raises:
        ValueError: a declared column is missing, names are duplicated, or no feature is left.
    """
    columns = [str(c) for c in frame.columns]
    _check_unique(columns, "fit")
    if label_column is not None and not isinstance(label_column, str):
        raise ValueError(f"label_column must be a column name, got {label_column!r}")
    ids = _names(id_columns, "id_columns")
    dropped = _names(exclude, "exclude")
    declared = {"label_column": [label_column] if label_column else [], "id_columns": ids, "exclude": dropped}
    for arg, names in declared.items():
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(f"fit: {arg} {missing} not in the input's columns {format_names(columns)}")
    label = label_column
    out = {*ids, *dropped, *([label] if label else [])}
    reasons: dict[str, str] = {}
    if detect:
        by_name = dict(zip(columns, frame.columns))
        for name in columns:
            if name in out:
                continue
            col = frame[by_name[name]]
            why = _label_reason(name, col)
            if why is not None:
                label = label or name
                reasons[name] = f"label: {why}"
                out.add(name)
                continue
            why = _id_reason(name, col)
            if why is not None:
                ids.append(name)
                reasons[name] = f"ID: {why}"
                out.add(name)
    features = [c for c in columns if c not in out]
    if not features:
        raise ValueError(
            f"fit: no feature columns left after excluding {format_names([c for c in columns if c in out])}; "
            "pass detect_columns=False to keep auto-detected columns as features"
        )
    if reasons:
        listed = ", ".join(f"{n!r} ({r})" for n, r in reasons.items())
        message = (
            f"fit: left column(s) out of the features: {listed}. Declare them with label_column=, "
            "id_columns= or exclude= to silence this, or pass detect_columns=False to keep them as features"
        )
        warnings.warn(ExcludedColumnsWarning(message, reasons), stacklevel=3)
    return ColumnRoles(
        features=features,
        label=label,
        ids=[c for c in columns if c in set(ids)],
        excluded=[c for c in columns if c in out],
        reasons=reasons,
    )


def align_columns(frame: Any, features: list[str], excluded: Sequence[str], where: str = "score") -> Any:
    """``frame`` restricted to the fitted ``features``, in the fitted order.

    Columns excluded at fit (label, IDs) are dropped when present; any other difference raises a
    ``ValueError`` naming the extra and the missing columns.
    """
    columns = [str(c) for c in frame.columns]
    if columns == features:
        return frame
    _check_unique(columns, where)
    skip, fitted = set(excluded), set(features)
    present = [c for c in columns if c not in skip]
    extra = [c for c in present if c not in fitted]
    missing = [c for c in features if c not in set(present)]
    fitted_on = f"the detector was fitted on columns {format_names(features)}"
    if extra and missing:
        lacks = format_names(missing)
        raise ValueError(
            f"{where}: input has extra column(s) {format_names(extra)} and lacks {lacks}; {fitted_on}"
        )
    if extra:
        raise ValueError(f"{where}: input has extra column(s) {format_names(extra)}; {fitted_on}")
    if missing:
        raise ValueError(f"{where}: input lacks column(s) {format_names(missing)}; {fitted_on}")
    by_name = dict(zip(columns, frame.columns))
    return frame[[by_name[c] for c in features]]  # excluded ones dropped, order as fitted
