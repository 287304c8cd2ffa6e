"""Reversible encoding of a mixed-type table into a float matrix the networks model.

Numeric columns get one of two encodings:

* ``"quantile"`` (default): a randomised probability-integral transform. A value is mapped
  to a uniform draw inside its empirical-CDF step, then to a standard-normal score. The
  inverse maps a score back through the empirical quantile function, so integer columns,
  point masses (many zeros) and bounds come back exactly as seen in training.
* ``"mode"``: CTGAN's mode-specific normalisation. A 1-D Gaussian mixture (see
  :mod:`aigc_synth.gmm`) finds the column's modes; a value becomes a one-hot mode indicator
  plus its offset from that mode's mean in units of 4 standard deviations.

A third numeric encoding, ``"histogram"``, is what :meth:`TableTransformer.fit_private` uses for
differentially-private fitting: the column's public bounds are cut into equal-width bins whose
counts are released with Laplace noise, and the value maps through that noisy CDF (linear inside a
bin) to a standard-normal score. The map only normalises: sampling decodes through the same map, so
its noise costs smoothness, not fidelity of the marginals.

Categorical columns become one-hot blocks over the categories seen in training (a missing
value is a category of its own). Numeric columns with missing values get an extra
observed/missing block. Everything fitted is returned by :meth:`TableTransformer.state`
as a JSON dict plus named float64 arrays, so it can be stored without pickle.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from aigc_synth.gmm import fit_gmm_1d, mode_responsibilities

#: Largest number of distinct values a quantile map keeps (more are thinned to quantiles).
MAX_KNOTS = 4096
_EPS = 1e-6
_MISSING = None  # how a missing category is spelled in JSON


@dataclasses.dataclass(frozen=True)
class Block:
    """A contiguous slice of the encoded matrix and how the networks should model it.

    ``kind`` is ``"gauss"`` (one real value), ``"tanh"`` (one value in (-1, 1)) or
    ``"softmax"`` (a one-hot group of ``dim`` columns).
    """

    kind: str
    start: int
    dim: int
    column: str


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _to_json_scalar(value: Any) -> Any:
    """A category value as a JSON scalar (numpy scalars become Python ones)."""
    if _is_missing(value):
        return _MISSING
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"category values must be str, int, float or bool, got {type(value).__name__}")


class TableTransformer:
    """Fits per-column encodings on a DataFrame and maps frames to/from float matrices."""

    def __init__(self, numeric_encoding: str = "quantile", max_modes: int = 10) -> None:
        if numeric_encoding not in ("quantile", "mode"):
            raise ValueError(f"numeric_encoding must be 'quantile' or 'mode', got {numeric_encoding!r}")
        self.numeric_encoding = numeric_encoding
        self.max_modes = max_modes
        self.columns: list[dict[str, Any]] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.blocks: list[Block] = []

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        df: pd.DataFrame,
        discrete_columns: list[str],
        *,
        seed: int = 0,
        continuous: Sequence[str] = (),
    ) -> TableTransformer:
        """Learn every column's encoding. ``discrete_columns`` are treated as categorical.

        ``continuous`` names numeric columns of whole numbers that are measurements on a fine
        grid (times as steps since their minimum): decoding interpolates between the seen values
        and rounds, instead of returning only seen levels as for other integer columns.
        """
        self.columns, self.arrays = [], {}
        for i, name in enumerate(df.columns):
            s = df[name]
            if s.isna().all():
                raise ValueError(f"column {name!r} has only missing values")
            spec: dict[str, Any] = {"name": str(name), "dtype": str(s.dtype), "has_nan": bool(s.isna().any())}
            try:
                if name in discrete_columns:
                    spec.update(self._fit_categorical(s))
                else:
                    spec.update(self._fit_numeric(s, f"col{i}", seed + i))
            except ValueError as exc:  # every message names the column and its dtype
                if repr(str(name)) in str(exc):
                    raise
                raise ValueError(f"column {name!r} (dtype {s.dtype}): {exc}") from exc
            if name in continuous and spec["role"] == "numeric" and spec["integer"]:
                spec["integer"], spec["decimals"] = False, 0
                self.arrays.pop(f"col{i}.levels", None)
            self.columns.append(spec)
        self._layout()
        self.check_size(len(df))
        return self

    def check_size(self, rows: int) -> None:
        """Refuse, before any training, an encoded ``rows x output_dim`` table too big for memory.

        A categorical column becomes one one-hot column per category, so one column with a
        million distinct values (an id, a free-text field) makes the table a million wide; the
        message names the widest categorical column and the memory the encoding would need.
        """
        from aigc_sdk.specs import check_allocation

        cats = [(len(c["categories"]), c["name"]) for c in self.columns if c["role"] == "categorical"]
        widest = max(cats) if cats else (0, "")
        what = f"the encoded table ({rows} rows x {self.output_dim} columns)"
        hint = "drop or group the rare categories, or treat the column as numeric"
        if widest[0] > 1:
            what += f"; categorical column {widest[1]!r} alone has {widest[0]} categories"
            hint = f"drop column {widest[1]!r} (an id?) or group its rare categories"
        check_allocation(
            what, rows * self.output_dim * 4, purpose="for the one-hot float32 encoding", hint=hint
        )

    def fit_private(
        self,
        df: pd.DataFrame,
        schema: dict[str, dict[str, Any]],
        *,
        epsilon: float,
        bins: int = 32,
        seed: int = 0,
    ) -> TableTransformer:
        """Fit with epsilon-differential privacy, from public ``schema`` facts plus noisy counts.

        ``schema`` describes every column of ``df`` without looking at it: numeric columns as
        ``{"min": lo, "max": hi}`` (optional ``"integer": True``, ``"nullable": True``, ``"decimals": d``),
        categorical ones as ``{"categories": [...]}`` (``None`` stands for a missing value). The only
        data-dependent outputs are per-column histograms (numeric: ``bins`` equal-width bins over the
        bounds; categorical: category counts) with Laplace noise. One row falls in one cell of each
        column's histogram, so each costs ``epsilon / columns`` and together they cost ``epsilon``
        (sequential composition). Numeric values outside the bounds are clipped to them.
        """
        check_schema(df, schema)
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
        rng = np.random.default_rng(seed)
        scale = len(df.columns) / epsilon  # Laplace scale of each count: sensitivity 1, budget eps/columns
        self.numeric_encoding, self.columns, self.arrays = "histogram", [], {}
        for i, name in enumerate(df.columns):
            facts, s = schema[str(name)], df[name]
            spec: dict[str, Any] = {"name": str(name), "dtype": str(s.dtype)}
            if "categories" in facts:
                cats = [_to_json_scalar(v) for v in facts["categories"]]
                idx = _category_codes(s, cats, f"missing from schema[{name!r}]['categories']")
                counts = np.bincount(idx, minlength=len(cats)) + rng.laplace(0.0, scale, len(cats))
                spec.update(
                    role="categorical",
                    has_nan=None in cats,
                    categories=cats,
                    frequencies=[float(f) for f in np.maximum(counts, 0.0) + 1.0],
                )
            else:
                x = s.to_numpy(dtype=np.float64, na_value=np.nan)
                miss = np.isnan(x)
                nullable = bool(facts.get("nullable", False))
                if miss.any() and not nullable:
                    raise ValueError(
                        f"column {name!r} has missing values but schema[{name!r}] is not nullable"
                    )
                lo, hi = float(facts["min"]), float(facts["max"])
                edges = np.linspace(lo, hi, bins + 1)
                counts = np.histogram(np.clip(x[~miss], lo, hi), bins=edges)[0] + rng.laplace(
                    0.0, scale, bins
                )
                mass = np.maximum(counts, 0.0) + 1.0  # every bin keeps some mass: the map stays invertible
                self.arrays[f"col{i}.edges"] = edges
                self.arrays[f"col{i}.cdf"] = np.concatenate([[0.0], np.cumsum(mass) / mass.sum()])
                spec.update(
                    role="numeric",
                    has_nan=nullable,
                    integer=bool(facts.get("integer", False)),
                    min=lo,
                    max=hi,
                    encoding="histogram",
                    key=f"col{i}",
                    decimals=facts.get("decimals"),
                )
            self.columns.append(spec)
        self._layout()
        return self

    def _fit_categorical(self, s: pd.Series) -> dict[str, Any]:
        counts = s.value_counts(dropna=False, sort=False)
        cats = [_to_json_scalar(v) for v in counts.index]
        # deterministic order: by string form, missing last
        order = sorted(range(len(cats)), key=lambda j: (cats[j] is None, str(cats[j])))
        return {
            "role": "categorical",
            "categories": [cats[j] for j in order],
            "frequencies": [int(counts.iloc[j]) for j in order],
        }

    def _fit_numeric(self, s: pd.Series, key: str, seed: int) -> dict[str, Any]:
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise ValueError(f"column {s.name!r} is not numeric; list it in discrete_columns")
        x = s.dropna().to_numpy(dtype=np.float64)
        if not np.isfinite(x).all():
            raise ValueError(f"column {s.name!r} contains infinite values")
        spec: dict[str, Any] = {
            "role": "numeric",
            "integer": bool(np.all(np.floor(x) == x)),
            "min": float(x.min()),
            "max": float(x.max()),
            "encoding": self.numeric_encoding,
            "key": key,
            "count": int(x.size),
            "decimals": _decimals(x),
        }
        if self.numeric_encoding == "quantile":
            values, counts = np.unique(x, return_counts=True)
            cdf = np.cumsum(counts) / counts.sum()
            if values.size > MAX_KNOTS:  # thin to a quantile grid, keeping both ends
                idx = np.unique(np.searchsorted(cdf, np.linspace(0, 1, MAX_KNOTS), side="left"))
                idx = np.clip(idx, 0, values.size - 1)
                values, cdf = values[idx], cdf[idx]
            self.arrays[f"{key}.values"], self.arrays[f"{key}.cdf"] = values, cdf
        else:
            w, m, sd = fit_gmm_1d(x, max_components=self.max_modes, seed=seed)
            self.arrays[f"{key}.weights"], self.arrays[f"{key}.means"], self.arrays[f"{key}.stds"] = w, m, sd
            spec["fill"] = float(np.median(x))
            levels = np.unique(x)
            if spec["integer"] and levels.size <= MAX_KNOTS:  # decoded values snap to seen levels
                self.arrays[f"{key}.levels"] = levels
        return spec

    def _layout(self) -> None:
        self.blocks = []
        pos = 0
        for spec in self.columns:
            name = spec["name"]
            if spec["role"] == "categorical":
                self.blocks.append(Block("softmax", pos, len(spec["categories"]), name))
                pos += len(spec["categories"])
                continue
            if spec["encoding"] in ("quantile", "histogram"):
                self.blocks.append(Block("gauss", pos, 1, name))
                pos += 1
            else:
                k = self.arrays[f"{spec['key']}.means"].size
                self.blocks.append(Block("tanh", pos, 1, name))
                self.blocks.append(Block("softmax", pos + 1, k, name))
                pos += 1 + k
            if spec["has_nan"]:
                self.blocks.append(Block("softmax", pos, 2, name + "#missing"))
                pos += 2

    @property
    def output_dim(self) -> int:
        """Width of the encoded matrix."""
        last = self.blocks[-1]
        return last.start + last.dim

    # ------------------------------------------------------------------ helpers
    def spec(self, column: str) -> dict[str, Any]:
        """The fitted description of ``column`` (raises ValueError if unknown)."""
        for spec in self.columns:
            if spec["name"] == column:
                return spec
        raise ValueError(f"unknown column {column!r}; columns are {[c['name'] for c in self.columns]}")

    def block_of(self, column: str) -> Block:
        """The categorical one-hot block of ``column``."""
        for b in self.blocks:
            if b.column == column and b.kind == "softmax":
                return b
        raise ValueError(f"column {column!r} has no categorical block")

    def category_index(self, column: str, value: Any) -> int:
        """Position of ``value`` among ``column``'s categories (ValueError if never seen)."""
        spec = self.spec(column)
        if spec["role"] != "categorical":
            raise ValueError(f"conditions are supported on categorical columns only; {column!r} is numeric")
        key = _to_json_scalar(value)
        for j, c in enumerate(spec["categories"]):
            if (c is None and key is None) or (
                c is not None and key is not None and c == key and isinstance(c, str) == isinstance(key, str)
            ):
                return j
        raise ValueError(f"value {value!r} was never seen in column {column!r}; known: {spec['categories']}")

    # ------------------------------------------------------------------ encoding
    def transform(self, df: pd.DataFrame, *, seed: int = 0) -> np.ndarray:
        """Encode ``df`` (same columns as at fit) into a float32 matrix.

        The quantile and mode encodings draw random numbers (uniform jitter inside a CDF
        step, a mode by responsibility); they come from ``seed``, so the result is reproducible.
        """
        rng = np.random.default_rng(seed)
        out = np.zeros((len(df), self.output_dim), dtype=np.float64)
        blocks = iter(self.blocks)
        for spec in self.columns:
            s = df[spec["name"]]
            b = next(blocks)
            if spec["role"] == "categorical":
                idx = _category_codes(s, spec["categories"], "not seen at fit")
                out[np.arange(len(df)), b.start + idx] = 1.0
                continue
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            miss = np.isnan(x)
            key = spec["key"]
            if spec["encoding"] == "quantile":
                values, cdf = self.arrays[f"{key}.values"], self.arrays[f"{key}.cdf"]
                k = np.clip(
                    np.searchsorted(values, np.where(miss, values[0], x), side="left"), 0, values.size - 1
                )
                lo = np.where(k > 0, cdf[np.maximum(k - 1, 0)], 0.0)
                u = lo + rng.uniform(size=len(x)) * (cdf[k] - lo)
                z = ndtri(np.clip(u, _EPS, 1 - _EPS))
                out[:, b.start] = np.where(miss, 0.0, z)
            elif spec["encoding"] == "histogram":
                edges, cdf = self.arrays[f"{key}.edges"], self.arrays[f"{key}.cdf"]
                u = np.interp(np.where(miss, edges[0], x), edges, cdf)  # values clip to the bounds
                out[:, b.start] = np.where(miss, 0.0, ndtri(np.clip(u, _EPS, 1 - _EPS)))
            else:
                w, m, sd = (self.arrays[f"{key}.{p}"] for p in ("weights", "means", "stds"))
                xv = np.where(miss, spec["fill"], x)
                resp = mode_responsibilities(xv, w, m, sd)
                # sample the mode like CTGAN does, so overlapping modes are all exercised
                cum = np.cumsum(resp, axis=1)
                mode = np.minimum((cum < rng.uniform(size=(len(x), 1))).sum(axis=1), m.size - 1)
                out[:, b.start] = np.clip((xv - m[mode]) / (4 * sd[mode]), -0.99, 0.99)
                mb = next(blocks)
                out[np.arange(len(x)), mb.start + mode] = 1.0
            if spec["has_nan"]:
                nb = next(blocks)
                out[np.arange(len(x)), nb.start + miss.astype(np.int64)] = 1.0
        return out.astype(np.float32)

    def inverse_transform(self, data: np.ndarray) -> pd.DataFrame:
        """Decode a matrix whose softmax blocks are one-hot (or scores: argmax is taken)."""
        data = np.asarray(data, dtype=np.float64)
        cols: dict[str, Any] = {}
        blocks = iter(self.blocks)
        for spec in self.columns:
            b = next(blocks)
            name = spec["name"]
            if spec["role"] == "categorical":
                idx = data[:, b.start : b.start + b.dim].argmax(axis=1)
                cats = np.array([np.nan if c is None else c for c in spec["categories"]], dtype=object)
                cols[name] = _restore_dtype(pd.Series(cats[idx], name=name), spec["dtype"])
                continue
            key = spec["key"]
            if spec["encoding"] == "quantile":
                values, cdf = self.arrays[f"{key}.values"], self.arrays[f"{key}.cdf"]
                u = ndtr(data[:, b.start])
                if spec["integer"]:
                    x = values[np.clip(np.searchsorted(cdf, u, side="left"), 0, values.size - 1)]
                else:
                    # repeated values (point masses such as 0.0) come back exactly; between
                    # single observations interpolate, so new real values appear
                    mass = np.diff(np.concatenate([[0.0], cdf]))
                    k = np.clip(np.searchsorted(cdf, u, side="left"), 0, values.size - 1)
                    smooth = np.interp(u, cdf - mass / 2, values)
                    x = np.where(mass[k] > 1.5 / spec["count"], values[k], smooth)
            elif spec["encoding"] == "histogram":
                edges, cdf = self.arrays[f"{key}.edges"], self.arrays[f"{key}.cdf"]
                x = np.interp(ndtr(data[:, b.start]), cdf, edges)
            else:
                m, sd = self.arrays[f"{key}.means"], self.arrays[f"{key}.stds"]
                mb = next(blocks)
                mode = data[:, mb.start : mb.start + mb.dim].argmax(axis=1)
                x = np.clip(data[:, b.start], -1, 1) * 4 * sd[mode] + m[mode]
            x = np.clip(x, spec["min"], spec["max"])
            if f"{key}.levels" in self.arrays:
                x = _snap(x, self.arrays[f"{key}.levels"])
            if spec["integer"]:
                x = np.round(x)
            elif spec.get("decimals") is not None:  # as many decimals as the training values
                x = np.round(x, spec["decimals"])
            if spec["has_nan"]:
                nb = next(blocks)
                x = np.where(data[:, nb.start + 1] > data[:, nb.start], np.nan, x)
            cols[name] = _restore_dtype(pd.Series(x, name=name), spec["dtype"])
        return pd.DataFrame(cols)

    # ------------------------------------------------------------------ persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-serialisable config and named arrays that rebuild this transformer."""
        config = {
            "numeric_encoding": self.numeric_encoding,
            "max_modes": self.max_modes,
            "columns": self.columns,
        }
        return config, dict(self.arrays)

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> TableTransformer:
        """Rebuild a fitted transformer from :meth:`state`'s output."""
        t = cls(max_modes=config["max_modes"])
        t.numeric_encoding = config["numeric_encoding"]  # "histogram" comes from fit_private
        t.columns = config["columns"]
        t.arrays = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
        t._layout()
        return t


def _category_codes(s: pd.Series, categories: list[Any], unknown: str) -> np.ndarray:
    """Index of each value of ``s`` in ``categories`` (None = missing); ValueError on the first value
    not there, saying ``column ... has a category <unknown>``."""
    lookup = {(c if c is not None else "\0nan"): j for j, c in enumerate(categories)}
    keys = [("\0nan" if _is_missing(v) else _to_json_scalar(v)) for v in s.tolist()]
    idx = np.array([lookup.get(k, -1) for k in keys], dtype=np.int64)
    if (idx < 0).any():
        bad = keys[int(np.argmax(idx < 0))]
        raise ValueError(f"column {s.name!r} has a category {unknown}: {bad!r}")
    return idx


def check_schema(df: pd.DataFrame, schema: Any) -> None:
    """Raise ValueError unless ``schema`` describes exactly ``df``'s columns (see ``fit_private``)."""
    if not isinstance(schema, dict):
        raise ValueError(f"schema must be a dict column -> facts, got {type(schema).__name__}")
    names = [str(c) for c in df.columns]
    missing, extra = [c for c in names if c not in schema], [c for c in schema if c not in names]
    if missing or extra:
        raise ValueError(
            f"schema must describe exactly the data's columns: missing {missing}, unknown {extra}"
        )
    for name in names:
        facts = schema[name]
        if not isinstance(facts, dict):
            raise ValueError(f"schema[{name!r}] must be a dict, got {type(facts).__name__}")
        if "categories" in facts:
            cats = facts["categories"]
            if not isinstance(cats, (list, tuple)) or not cats:
                raise ValueError(f"schema[{name!r}]['categories'] must be a non-empty list")
            continue
        if "min" not in facts or "max" not in facts:
            raise ValueError(
                f"schema[{name!r}] needs 'categories' (categorical) or 'min' and 'max' (numeric)"
            )
        lo, hi = facts["min"], facts["max"]
        if not (
            isinstance(lo, (int, float))
            and isinstance(hi, (int, float))
            and math.isfinite(lo)
            and math.isfinite(hi)
            and lo < hi
        ):
            raise ValueError(f"schema[{name!r}] needs finite numbers min < max, got {lo!r}, {hi!r}")
        col = df[df.columns[names.index(name)]]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"column {name!r} is not numeric; give schema[{name!r}]['categories'] instead")


def _decimals(x: np.ndarray, most: int = 6) -> int | None:
    """Fewest decimals that represent every value exactly (None if more than ``most``)."""
    for d in range(most + 1):
        if np.allclose(np.round(x, d), x, rtol=0, atol=1e-9 * max(1.0, float(np.abs(x).max()))):
            return d
    return None


def _snap(x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Replace each value by the nearest of the sorted ``levels``."""
    hi = np.clip(np.searchsorted(levels, x), 1, max(levels.size - 1, 1))
    lo = hi - 1
    if levels.size == 1:
        return np.full_like(x, levels[0])
    return np.where(np.abs(x - levels[lo]) <= np.abs(levels[hi] - x), levels[lo], levels[hi])


def _restore_dtype(s: pd.Series, dtype: str) -> pd.Series:
    """Cast a decoded column back to its training dtype where the values allow it."""
    try:
        if dtype.startswith(("int", "uint")) and not s.isna().any():
            return s.astype(dtype)
        if dtype.startswith(("float", "Int", "UInt", "Float", "bool", "category")):
            return s.astype(dtype)
    except (TypeError, ValueError):
        pass
    if dtype.startswith(("int", "uint")):
        return s.astype("float64")
    return s
