"""Column roles around the networks: dates and times, identifiers, unsupported types, labels.

The networks (through :class:`aigc_synth.transformer.TableTransformer`) model numbers and
categories only. :class:`ColumnPlan` sits in front of them:

* **Times**: ``datetime64`` columns (tz-naive or tz-aware), ``timedelta64`` columns, object
  columns of ``datetime``/``date`` objects and string columns whose values parse as dates
  become numbers — whole steps of the data's resolution (day, hour, minute, second, ...)
  since the training minimum — and go through the continuous-column path. Decoded values are
  clipped to the training ``[min, max]`` and come back in the input's type: ``datetime64`` with
  the same unit and time zone, strings in the inferred format (``"%Y-%m-%d"``,
  ``"%Y-%m-%dT%H:%M:%S"``, ...).
* **Identifiers**: near-unique string columns, and integer columns that are near-unique and
  named like an id or strictly unique and sequence-like, are not modelled. ``id_policy``
  says what happens: ``"generate"`` fresh values at sampling (never a training value),
  ``"drop"`` the column, ``"refuse"`` raise ``ValueError``.
* Any other column type (lists, bytes, decimals, complex, periods, ...) is refused with an
  error naming the column and its dtype.

Everything is JSON config plus named int64 arrays, so it is saved without pickle.
"""

from __future__ import annotations

import hashlib
import re
import string
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

ID_POLICIES = ("generate", "drop", "refuse")
#: A column is ID-like only with more than this many non-missing values...
ID_MIN_ROWS = 50
#: ... of which at least this share are distinct.
ID_MIN_DISTINCT = 0.95
#: Share of sampled strings that must parse as dates for a string column to be a date column.
DATE_MIN_PARSED = 0.95
#: Values checked when deciding whether a string column holds dates.
DATE_SAMPLE = 500

# integer columns count as identifiers by name: id, *_id, *Id, uuid, key, customer(_no), account(_no) ...
_ID_NAME = re.compile(
    r"(?i:^(id|uuid|guid|key|pk)$|[_\-\s.](id|uuid|guid|key)$|^(uuid|guid)|"
    r"^(customer|account|client|user|member|order|transaction|invoice|patient|employee)"
    r"([_\-\s]?(id|no|nr|num|number|code|key|ref))?$)"
    r"|[a-z0-9](Id|ID|Uuid|UUID|Key)$"
)
_LABEL_NAMES = {
    "target",
    "label",
    "labels",
    "class",
    "y",
    "outcome",
    "default",
    "churn",
    "churned",
    "fraud",
    "is_fraud",
    "survived",
    "response",
}
_LABEL_SUFFIXES = ("_label", "_target", "_class", "_outcome")
_NUMERIC_TEXT = re.compile(r"\s*[+-]?\d+([.,]\d+)?\s*")
# resolutions tried for time columns, coarsest first, in nanoseconds
_RESOLUTIONS = (
    ("day", 86_400 * 10**9),
    ("hour", 3_600 * 10**9),
    ("minute", 60 * 10**9),
    ("second", 10**9),
    ("millisecond", 10**6),
    ("microsecond", 10**3),
    ("nanosecond", 1),
)
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_NAT = np.iinfo(np.int64).min
_ALPHABETS = {
    "9": string.digits,
    "a": string.ascii_lowercase,
    "A": string.ascii_uppercase,
    "x": "0123456789abcdef",
    "X": "0123456789ABCDEF",
}


def looks_like_id_name(name: str) -> bool:
    """True for names such as ``id``, ``user_id``, ``customerId``, ``uuid``, ``key``, ``account_no``."""
    return bool(_ID_NAME.search(str(name).strip()))


def label_candidates(df: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Columns that look like a prediction label: a label-like name and 2 to 20 distinct values."""
    out = []
    for c in df.columns:
        norm = re.sub(r"[\s\-]+", "_", str(c).strip().lower())
        if c in exclude or not (norm in _LABEL_NAMES or norm.endswith(_LABEL_SUFFIXES)):
            continue
        try:
            k = df[c].nunique(dropna=True)
        except TypeError:  # unhashable values: not a label
            continue
        if 2 <= k <= 20:
            out.append(str(c))
    return out


class ColumnPlan:
    """What happens to each column before and after the networks (see the module docstring).

    Build one with :meth:`fit`; :meth:`to_model` turns a frame into what the transformer models
    (ID columns removed, times as numbers); :meth:`restore` turns decoded rows back into the
    input's columns, order and types.
    """

    def __init__(self) -> None:
        self.columns: list[str] = []
        self.times: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, dict[str, Any]] = {}
        self.id_policy = "generate"
        self.id_hashes: dict[str, np.ndarray] = {}
        self.notes: list[str] = []

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        df: pd.DataFrame,
        *,
        discrete_columns: Sequence[str] | None = None,
        target: str | None = None,
        id_columns: Sequence[str] | None = None,
        id_policy: str = "generate",
        private: bool = False,
        warn: bool = True,
    ) -> ColumnPlan:
        """Classify ``df``'s columns (string column names, as :class:`Synthesizer` makes them).

        ``id_columns=None`` detects identifier columns; a list names them exactly (``[]``: none).
        Columns in ``discrete_columns`` and the ``target`` stay categorical: they are never taken
        for dates or identifiers. With ``private`` (differentially-private fitting) nothing is
        detected from the data: only the given ``id_columns`` are set apart, and time columns are
        refused, since their encoding would need bounds read from the rows. Notes about detected
        columns are kept in :attr:`notes` and, with ``warn``, issued as ``UserWarning``.
        """
        if id_policy not in ID_POLICIES:
            raise ValueError(f"id_policy must be one of {ID_POLICIES}, got {id_policy!r}")
        plan = cls()
        plan.columns = [str(c) for c in df.columns]
        plan.id_policy = id_policy
        keep = {str(c) for c in (discrete_columns or ())}
        if target is not None:
            keep.add(str(target))
        explicit = _check_names(df, id_columns, "id_columns")
        if private and explicit and id_policy == "generate":
            raise ValueError(
                f"id_policy='generate' learns the format of id column(s) {explicit} from the rows, which "
                "differential privacy does not cover; use id_policy='drop' (or drop the columns)"
            )
        for name in plan.columns:
            s = df[name]
            if name in explicit:
                plan._add_id(name, s, detected=False, private=private)
                continue
            kind = _value_kind(s)
            if kind in ("datetime", "timedelta", "date"):
                if name in keep:
                    raise ValueError(
                        f"column {name!r} (dtype {s.dtype}) holds {kind} values; it is modelled as a "
                        "continuous time, so it cannot be a discrete column or the target"
                    )
                if private:
                    raise ValueError(
                        f"column {name!r} (dtype {s.dtype}) holds {kind} values: differentially-private "
                        "fitting models only numbers with public bounds and categories; convert it to "
                        "numbers (e.g. days since a public date) with bounds in the schema, or drop it"
                    )
                plan.times[name] = _fit_time(s, kind)
                continue
            if kind == "string" and name not in keep and not private:
                spec = _fit_date_strings(s)
                if spec is not None:
                    plan.times[name] = spec
                    if spec["unparsed"]:
                        plan._note(
                            f"column {name!r}: {spec['unparsed']} value(s) do not parse as dates "
                            f"(format {spec['format']!r}) and are treated as missing",
                            warn,
                        )
                    continue
            if id_columns is None and name not in keep and not private and _looks_like_id(name, s, kind):
                plan._add_id(name, s, detected=True, private=private)
        for name, spec in plan.ids.items():
            how = "detected" if spec["detected"] else "declared"
            counts = f": {spec['distinct']} distinct values in {spec['rows']} rows" if "rows" in spec else ""
            if id_policy == "refuse":
                raise ValueError(
                    f"column {name!r} is an identifier ({how}{counts}) and id_policy='refuse'; drop the "
                    "column, or use id_policy='generate' / 'drop' (or id_columns=[] to model it)"
                )
            what = "fresh values are generated at sampling" if id_policy == "generate" else "it is dropped"
            plan._note(
                f"column {name!r} ({how} as an identifier{counts}) is not modelled; {what} "
                f"(id_policy={id_policy!r}; id_columns= declares identifier columns explicitly)",
                warn and spec["detected"],
            )
        return plan

    def _note(self, message: str, warn: bool) -> None:
        self.notes.append(message)
        if warn:
            # at the caller of Synthesizer.fit (-> inputs.prepare_fit -> ColumnPlan.fit -> here)
            warnings.warn(message, UserWarning, stacklevel=5)

    def _add_id(self, name: str, s: pd.Series, *, detected: bool, private: bool) -> None:
        vals = s.dropna()
        spec: dict[str, Any] = {"dtype": str(s.dtype), "detected": detected}
        if not private:  # under DP nothing read from the rows is kept (the model saves the plan)
            spec.update(rows=len(s), distinct=int(vals.nunique()))
        if self.id_policy != "generate":  # dropped or refused: no format to learn
            self.ids[name] = spec
            return
        spec["missing"] = float(s.isna().mean())
        kind = _value_kind(s)
        if kind == "string":
            spec.update(_fit_string_ids(vals.astype(str)))
            self.id_hashes[name] = np.unique(_hash_strings(name, vals.astype(str).tolist()))
        elif kind in ("integer", "floating") and len(vals) and np.all(np.floor(vals) == vals):
            spec.update(_fit_int_ids(vals.to_numpy(dtype=np.float64).astype(np.int64)))
        else:
            raise ValueError(
                f"id column {name!r} has dtype {s.dtype} ({kind} values); identifier columns must hold "
                "strings or whole numbers"
            )
        self.ids[name] = spec

    # ------------------------------------------------------------------ mapping
    @property
    def model_columns(self) -> list[str]:
        """The columns the transformer models, in order (ID columns left out)."""
        return [c for c in self.columns if c not in self.ids]

    @property
    def time_columns(self) -> list[str]:
        """The time columns (modelled as numbers)."""
        return list(self.times)

    def to_model(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` as the transformer sees it: ID columns removed, time columns as float64 steps.

        ``df`` may be another frame with the training columns (a holdout, synthetic rows; the ID
        columns may be absent); time values outside the training range are kept (only decoding clips).
        """
        missing = [c for c in self.model_columns if c not in df.columns]
        if missing:
            raise ValueError(f"frame lacks column(s) {missing}; columns at fit were {self.columns}")
        out = {}
        for name in self.model_columns:
            s = df[name]
            out[name] = _time_to_number(s, self.times[name]) if name in self.times else s
        return pd.DataFrame(out, index=df.index)

    def restore(self, model_rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Decoded rows back in the input's types and column order, with fresh ID values."""
        n = len(model_rows)
        out: dict[str, Any] = {}
        for name in self.columns:
            if name in self.ids:
                if self.id_policy == "generate":
                    out[name] = self._generate_ids(name, n, rng)
            elif name in self.times:
                out[name] = _number_to_time(model_rows[name].to_numpy(dtype=np.float64), self.times[name])
            else:
                out[name] = model_rows[name]
        return pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in out.items()})

    def _generate_ids(self, name: str, n: int, rng: np.random.Generator) -> pd.Series:
        spec = self.ids[name]
        if "pattern_counts" in spec:
            values: Any = np.array(_new_strings(spec, self.id_hashes.get(name), name, n, rng), dtype=object)
        else:
            values = _new_ints(spec, n, rng, name)
        miss = rng.random(n) < spec["missing"] if spec["missing"] > 0 else np.zeros(n, dtype=bool)
        dtype = spec["dtype"]
        if "pattern_counts" in spec:
            values[miss] = None
            s = pd.Series(values, dtype=object)
            return s.astype(dtype) if dtype != "object" else s
        if miss.any():
            if dtype.startswith(("Int", "UInt")):
                return pd.Series(pd.array(np.where(miss, 0, values), dtype=dtype)).mask(miss)
            return pd.Series(np.where(miss, np.nan, values.astype(np.float64)))
        try:
            return pd.Series(values).astype(dtype)
        except (TypeError, ValueError, OverflowError):
            return pd.Series(values)

    # ------------------------------------------------------------------ persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON config and named int64 arrays (hashes of training ID strings) for :meth:`from_state`."""
        config = {
            "columns": self.columns,
            "times": self.times,
            "ids": self.ids,
            "id_policy": self.id_policy,
            "notes": self.notes,
        }
        return config, {f"ids.{k}": v for k, v in self.id_hashes.items()}

    @classmethod
    def identity(cls, columns: Sequence[str]) -> ColumnPlan:
        """A plan that passes ``columns`` through unchanged (models saved before plans existed)."""
        plan = cls()
        plan.columns = [str(c) for c in columns]
        return plan

    @classmethod
    def from_state(cls, config: dict[str, Any] | None, arrays: dict[str, np.ndarray]) -> ColumnPlan | None:
        """Rebuild :meth:`state`'s output (``None`` for models saved before plans existed)."""
        if config is None:
            return None
        plan = cls()
        plan.columns = list(config["columns"])
        plan.times, plan.ids = dict(config["times"]), dict(config["ids"])
        plan.id_policy, plan.notes = config["id_policy"], list(config["notes"])
        plan.id_hashes = {
            k[len("ids.") :]: np.asarray(v, dtype=np.int64) for k, v in arrays.items() if k.startswith("ids.")
        }
        return plan

    def summary(self) -> dict[str, Any]:
        """Per-column roles for reports: ``{"time_columns": {...}, "id_columns": {...}}``."""
        return {
            "time_columns": {
                k: {"kind": v["kind"], "resolution": v["resolution"], **_fmt(v)}
                for k, v in self.times.items()
            },
            "id_columns": {
                k: {"detected": v["detected"], "policy": self.id_policy, "dtype": v["dtype"]}
                for k, v in self.ids.items()
            },
        }


def _fmt(spec: dict[str, Any]) -> dict[str, Any]:
    return {"format": spec["format"]} if spec.get("format") else {}


# ---------------------------------------------------------------------- type checks
def _value_kind(s: pd.Series) -> str:
    """``"integer"``, ``"floating"``, ``"boolean"``, ``"string"`` (or str/number mixes), ``"datetime"``,
    ``"date"`` or ``"timedelta"``; ValueError naming the column and dtype for anything else."""
    name, dtype = s.name, s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if isinstance(dtype, pd.CategoricalDtype):
        inner = pd.api.types.infer_dtype(dtype.categories, skipna=True)
        if inner in ("string", "integer", "floating", "mixed-integer-float", "boolean", "empty"):
            return "categorical"  # the user chose categories: never taken for dates or identifiers
        if inner in ("mixed", "mixed-integer") and _plain_scalars(pd.Series(dtype.categories)):
            return "categorical"
        raise ValueError(
            f"column {name!r} has dtype {dtype} with {inner} categories; the synthesizer models "
            "categories that are str, int, float or bool: convert the categories (e.g. .astype(str))"
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise ValueError(f"column {name!r} has dtype {dtype}; complex numbers are not supported")
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "floating"
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        raise ValueError(
            f"column {name!r} has dtype {dtype}, which the synthesizer does not model; "
            "convert it to numbers, strings or datetime64, or drop it"
        )
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred in ("string", "empty"):
        return "string"
    if inferred in ("integer", "floating", "mixed-integer-float", "boolean"):
        return "categorical"  # an object column of numbers: categories, as before
    if inferred in ("datetime", "datetime64"):
        return "datetime"
    if inferred in ("date", "timedelta", "timedelta64"):
        return "date" if inferred == "date" else "timedelta"
    if inferred in ("mixed", "mixed-integer") and _plain_scalars(s):
        return "string"
    bad = next(
        (v for v in s.dropna().tolist() if not isinstance(v, (str, int, float, bool, np.generic))), None
    )
    what = type(bad).__name__ if bad is not None else inferred
    raise ValueError(
        f"column {name!r} (dtype {dtype}) holds {what} values, which the synthesizer cannot model; "
        "convert them to numbers, strings or datetimes, or drop the column"
    )


def _plain_scalars(s: pd.Series) -> bool:
    return all(isinstance(v, (str, int, float, bool, np.generic)) for v in s.dropna().tolist())


def _check_names(df: pd.DataFrame, names: Sequence[str] | None, arg: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        raise ValueError(f"{arg} must be a list of column names, not a string")
    out = [str(c) for c in names]
    unknown = [c for c in out if c not in df.columns]
    if unknown:
        raise ValueError(f"unknown {arg} column(s) {unknown}; columns are {list(df.columns)}")
    return out


# ---------------------------------------------------------------------- times
def _ticks(s: pd.Series, kind: str) -> tuple[np.ndarray, int, str | None, str]:
    """int64 nanoseconds-or-coarser ticks (UTC for tz-aware), ns per tick, time zone, unit."""
    if kind == "date":  # python date objects
        s = pd.to_datetime(s)
    elif kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(s.dtype):
        try:  # object column of datetime objects
            s = pd.to_datetime(s)
        except (TypeError, ValueError):  # mixed time zones: one instant scale
            s = pd.to_datetime(s, utc=True)
    elif kind == "timedelta" and not pd.api.types.is_timedelta64_dtype(s.dtype):
        s = pd.to_timedelta(s)
    unit = str(s.dt.unit)
    tz = None if kind == "timedelta" else (str(s.dt.tz) if s.dt.tz is not None else None)
    ticks = np.asarray(s.array.asi8 if hasattr(s.array, "asi8") else s.to_numpy().view(np.int64))
    return ticks.astype(np.int64), _UNIT_NS[unit], tz, unit


def _time_spec(ticks: np.ndarray, ns_per_tick: int, tz: str | None, unit: str) -> dict[str, Any]:
    """Range and resolution: the coarsest of day, hour, ..., nanosecond that divides every value's
    distance from the minimum (so a daily 13:45 series is modelled in days from its first time)."""
    ok = ticks[ticks != _NAT]
    lo, hi = int(ok.min()), int(ok.max())
    rel = ok - lo
    resolution, step = unit, 1
    for label, ns in _RESOLUTIONS:
        if ns % ns_per_tick == 0 and np.all(rel % (ns // ns_per_tick) == 0):
            resolution, step = label, ns // ns_per_tick
            break
    return {"unit": unit, "tz": tz, "min": lo, "max": hi, "step": int(step), "resolution": resolution}


def _fit_time(s: pd.Series, kind: str) -> dict[str, Any]:
    ticks, ns_per_tick, tz, unit = _ticks(s, kind)
    spec = _time_spec(ticks, ns_per_tick, tz, unit)
    spec.update(kind="timedelta" if kind == "timedelta" else ("date" if kind == "date" else "datetime"))
    spec["dtype"] = str(s.dtype)
    if kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(s.dtype):
        spec["dtype"] = f"datetime64[{unit}]" if tz is None else f"datetime64[{unit}, {tz}]"
    return spec


def _parse_dates(s: pd.Series, fmt: str) -> pd.Series:
    """``s`` parsed with ``fmt`` (unparseable values -> NaT), one time zone if the strings carry offsets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # format and mixed-offset chatter: the result is checked
        try:
            out = pd.to_datetime(s, format=fmt, errors="coerce")
        except (TypeError, ValueError):
            out = None
        if out is None or not pd.api.types.is_datetime64_any_dtype(out.dtype):
            out = pd.to_datetime(s, format=fmt, errors="coerce", utc=True)
    return out


def _fit_date_strings(s: pd.Series) -> dict[str, Any] | None:
    """A time spec if ``s``'s strings are dates (see :data:`DATE_MIN_PARSED`), else None."""
    from pandas.tseries.api import guess_datetime_format

    vals = s.dropna().astype(str)
    if vals.empty:
        return None
    sample = vals.sample(DATE_SAMPLE, random_state=0) if len(vals) > DATE_SAMPLE else vals
    if sample.str.fullmatch(_NUMERIC_TEXT).any():  # "2024", "20240131", "1.5": numbers, not dates
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dayfirst hints
        guesses = Counter(guess_datetime_format(v) for v in sample.head(20).str.strip())
    fmts = [f for f, _ in guesses.most_common() if f and ("%Y" in f or "%y" in f)]
    for fmt in [*fmts[:2], "ISO8601"]:
        if _parse_dates(sample.str.strip(), fmt).notna().mean() >= DATE_MIN_PARSED:
            break
    else:
        return None
    parsed = _parse_dates(vals.str.strip(), fmt)
    if parsed.notna().mean() < DATE_MIN_PARSED:
        return None
    ticks, ns_per_tick, tz, unit = _ticks(parsed.reindex(s.index), "datetime")
    spec = _time_spec(ticks, ns_per_tick, tz, unit)
    out_fmt = fmt
    if fmt == "ISO8601":  # write back the ISO shape most of the data use
        text = sample.str.strip()
        if text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").mean() > 0.5:
            out_fmt = "%Y-%m-%d"
        else:
            out_fmt = "%Y-%m-%d" + ("T" if text.str.contains("T").mean() > 0.5 else " ") + "%H:%M:%S"
            if text.str.contains(r":\d{2}\.\d").mean() > 0.5:
                out_fmt += ".%f"
            if tz is not None:
                out_fmt += "%z"
    spec.update(
        kind="date_string",
        dtype=str(s.dtype),
        parse_format=fmt,
        format=out_fmt,
        unparsed=int(parsed.isna().sum()),
        offset_style=_offset_style(sample.str.strip()) if "%z" in out_fmt else None,
    )
    return spec


def _offset_style(text: pd.Series) -> str | None:
    """How most strings spell their UTC offset, where ``%z`` would write ``+0100``: ``"Z"`` for
    ``...Z``, ``"colon"`` for ``+01:00``, None for ``+0100``."""
    if text.str.endswith("Z").mean() > 0.5:
        return "Z"
    if text.str.contains(r"[+-]\d{2}:\d{2}$").mean() > 0.5:
        return "colon"
    return None


def _time_to_number(s: pd.Series, spec: dict[str, Any]) -> pd.Series:
    if spec["kind"] == "date_string":
        parsed = _parse_dates(s.astype("string").str.strip(), spec["parse_format"])
        ticks = _ticks(parsed, "datetime")[0]
    else:
        ticks = _ticks(s, "timedelta" if spec["kind"] == "timedelta" else spec["kind"])[0]
    x = np.where(ticks == _NAT, np.nan, (ticks - spec["min"]) / spec["step"])
    return pd.Series(x, index=s.index, name=s.name, dtype=np.float64)


def _number_to_time(x: np.ndarray, spec: dict[str, Any]) -> pd.Series:
    miss = np.isnan(x)
    steps = np.round(np.where(miss, 0.0, x))
    # exact integer arithmetic, then the training range in ticks (float steps can round past it)
    ticks = np.clip(spec["min"] + steps.astype(np.int64) * spec["step"], spec["min"], spec["max"])
    ticks = np.where(miss, _NAT, ticks)
    if spec["kind"] == "timedelta":
        return pd.Series(ticks.view(f"m8[{spec['unit']}]")).astype(spec["dtype"])
    s = pd.Series(ticks.view(f"M8[{spec['unit']}]"))
    if spec["tz"] is not None:
        s = s.dt.tz_localize("UTC").dt.tz_convert(spec["tz"])
    if spec["kind"] == "date_string":
        text = s.dt.strftime(spec["format"])
        style = spec.get("offset_style")
        if style == "Z":
            text = text.str.replace(r"[+-]0000$", "Z", regex=True)
        elif style == "colon":
            text = text.str.replace(r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True)
        text = text.astype(object).where(~miss, None)
        return text.astype(spec["dtype"]) if spec["dtype"] != "object" else text
    if spec["kind"] == "date":
        return s.dt.date.astype(object).where(~miss, None)
    return s.astype(spec["dtype"])


# ---------------------------------------------------------------------- identifiers
def _looks_like_id(name: str, s: pd.Series, kind: str) -> bool:
    vals = s.dropna()
    if len(vals) <= ID_MIN_ROWS:
        return False
    distinct = vals.nunique()
    if distinct < ID_MIN_DISTINCT * len(vals):
        return False
    if kind == "string":
        return True
    whole = kind == "integer" or (kind == "floating" and bool(np.all(np.floor(vals) == vals)))
    if not whole:
        return False
    if looks_like_id_name(name):
        return True
    if kind != "integer" or distinct != len(s):  # by shape alone: strictly unique ints, no gaps in data
        return False
    v = vals.to_numpy(dtype=np.int64)
    if (np.diff(v) > 0).all() or (np.diff(v) < 0).all():
        return True
    steps = np.diff(np.sort(v))
    return bool((steps == steps[0]).all())


def _hash_strings(column: str, values: list[str]) -> np.ndarray:
    """64-bit BLAKE2b digests of ``column + value``: enough to refuse a collision at sampling
    without storing the training identifiers themselves."""
    pre = column.encode("utf-8", "surrogatepass") + b"\0"
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(pre + v.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                "little",
                signed=True,
            )
            for v in values
        ],
        dtype=np.int64,
    )


def _member(q: np.ndarray, sorted_hashes: np.ndarray | None) -> np.ndarray:
    """Which of ``q`` are in the sorted array ``sorted_hashes``."""
    if sorted_hashes is None or not sorted_hashes.size:
        return np.zeros(q.shape, dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_hashes, q), sorted_hashes.size - 1)
    return np.asarray(sorted_hashes[idx] == q)


def _pattern(text: str, hexmode: str | None) -> str:
    """Character classes of ``text``: ``9`` digit, ``a``/``A`` letter, ``x``/``X`` hex digit; the
    rest (separators, non-ASCII) is kept literally."""
    out = []
    for ch in text:
        if ch in string.digits or ch in string.ascii_letters:
            if hexmode is not None:
                out.append(hexmode)
            elif ch in string.digits:
                out.append("9")
            else:
                out.append("a" if ch in string.ascii_lowercase else "A")
        else:
            out.append(ch)
    return "".join(out)


def _fit_string_ids(vals: pd.Series) -> dict[str, Any]:
    """Length/prefix style of string identifiers: the common prefix (without trailing digits) and
    the 50 most frequent character-class patterns of what follows."""
    texts = vals.tolist()
    prefix = _common_prefix(texts).rstrip(string.digits)
    rest = [t[len(prefix) :] for t in texts]
    chars = {c for t in rest for c in t if c in string.digits or c in string.ascii_letters}
    letters = chars - set(string.digits)
    hexmode = None
    if letters and chars <= set("0123456789abcdef"):
        hexmode = "x"
    elif letters and chars <= set("0123456789ABCDEF"):
        hexmode = "X"
    counts = Counter(_pattern(t, hexmode) for t in rest).most_common(50)
    return {"kind": "string", "prefix": prefix, "pattern_counts": [[p, int(k)] for p, k in counts]}


def _common_prefix(texts: list[str]) -> str:
    if not texts:
        return ""
    lo, hi = min(texts), max(texts)  # the common prefix of all = that of the extremes
    i = 0
    while i < min(len(lo), len(hi)) and lo[i] == hi[i]:
        i += 1
    return lo[:i]


def _fill(pattern: str, k: int, rng: np.random.Generator) -> list[str]:
    """``k`` random strings following ``pattern`` (see :func:`_pattern`)."""
    if not pattern or k == 0:
        return [pattern] * k
    cols = []
    for ch in pattern:
        alphabet = _ALPHABETS.get(ch)
        if alphabet is None:
            cols.append(np.full(k, ch, dtype="<U1"))
        else:
            cols.append(np.array(list(alphabet), dtype="<U1")[rng.integers(len(alphabet), size=k)])
    grid = np.ascontiguousarray(np.stack(cols, axis=1))
    return grid.view(f"<U{len(pattern)}").ravel().tolist()


def _new_strings(
    spec: dict[str, Any], hashes: np.ndarray | None, column: str, n: int, rng: np.random.Generator
) -> list[str]:
    """``n`` distinct strings in the training style, none of them a training identifier."""
    pats = [p for p, _ in spec["pattern_counts"]]
    weights = np.array([k for _, k in spec["pattern_counts"]], dtype=np.float64)
    chosen = [pats[i] for i in rng.choice(len(pats), size=n, p=weights / weights.sum())]
    out: list[str | None] = [None] * n
    seen: set[str] = set()
    todo = list(range(n))
    rounds = 0
    while todo:
        rounds += 1
        if rounds > 3:  # mostly collisions: this style's space is (nearly) used up, so lengthen it
            for i in todo:
                p = chosen[i]
                chosen[i] = p + ("x" if "x" in p else "X" if "X" in p else "9")
        by_pattern: dict[str, list[int]] = {}
        for i in todo:
            by_pattern.setdefault(chosen[i], []).append(i)
        order: list[int] = []
        texts: list[str] = []
        for pat, idx in by_pattern.items():
            order += idx
            texts += [spec["prefix"] + t for t in _fill(pat, len(idx), rng)]
        in_train = _member(_hash_strings(column, texts), hashes)
        todo = []
        for i, text, bad in zip(order, texts, in_train.tolist()):
            if bad or text in seen:
                todo.append(i)
            else:
                seen.add(text)
                out[i] = text
    return [t for t in out if t is not None]


def _fit_int_ids(v: np.ndarray) -> dict[str, Any]:
    steps = np.diff(np.sort(v))
    sequence = bool(v.size > 1 and steps.min() > 0 and (steps == steps[0]).all())
    return {
        "kind": "integer",
        "min": int(v.min()),
        "max": int(v.max()),
        "step": int(steps[0]) if sequence else 1,
        "sequence": sequence,
        "digits": len(str(abs(int(v.max())))),
    }


def _new_ints(spec: dict[str, Any], n: int, rng: np.random.Generator, column: str) -> np.ndarray:
    """``n`` distinct ints above the training maximum: a sequence continues (max + step, max + 2 step, ...);
    other identifiers are drawn at random with the same number of digits where there is room."""
    top, step = int(spec["max"]), int(spec["step"])
    limit = np.iinfo(np.int64).max
    if spec["sequence"]:
        if top > limit - step * n:
            raise ValueError(f"id column {column!r}: no room above {top} for {n} new identifiers")
        return top + step * np.arange(1, n + 1, dtype=np.int64)
    hi = 10 ** spec["digits"] - 1 if top >= 0 else -1
    if hi - top < 10 * n:
        hi = top + 10 * n
    if hi > limit:
        raise ValueError(f"id column {column!r}: no room above {top} for {n} new identifiers")
    got = np.empty(0, dtype=np.int64)
    while got.size < n:
        draw = rng.integers(top + 1, hi + 1, size=2 * (n - got.size) + 8, dtype=np.int64)
        merged = pd.unique(np.concatenate([got, draw]))
        got = np.asarray(merged[:n], dtype=np.int64)
    return got


__all__ = ["ID_POLICIES", "ColumnPlan", "label_candidates", "looks_like_id_name"]
