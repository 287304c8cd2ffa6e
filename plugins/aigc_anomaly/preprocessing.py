"""Input validation and robust scaling for the anomaly detector.

Accepts pandas frames, numpy arrays and tensors; tabular ``(N, D)`` or images ``(N, C, H, W)``
(flattened). Missing values are either refused with a clear error or imputed by the training
median; scaling is fit on the training data only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

NAN_POLICIES = ("raise", "median")
SCALINGS = ("standard", "robust", "none")


def to_matrix(data: Any, *, name: str = "X") -> tuple[np.ndarray, tuple[int, ...], list[str] | None]:
    """Return ``(matrix (N, D) float64, per-sample shape, column names or None)``.

    Raises ``ValueError`` for empty input, non-numeric columns or fewer than 2 dimensions.
    """
    columns = None
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # pandas DataFrame, without importing pandas
        columns = [str(c) for c in data.columns]
        bad = [c for c, dt in zip(columns, data.dtypes) if dt.kind not in "biuf"]
        if bad:
            raise ValueError(f"{name} has non-numeric columns {bad}; encode them as numbers first")
        arr = data.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(data, torch.Tensor):
        arr = data.detach().cpu().double().numpy()
    else:
        try:
            arr = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric, got {type(data).__name__}: {exc}") from None
    if arr.ndim < 2:
        raise ValueError(f"{name} must be 2-D (samples, features) or 4-D images, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr[0].size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    shape = tuple(int(s) for s in arr.shape[1:])
    return arr.reshape(arr.shape[0], -1), shape, columns


class Preprocessor:
    """Median imputation (optional) + per-feature centring/scaling, fit on training data.

    ``scaling="standard"`` uses mean/std; ``"robust"`` median/IQR (falls back to std for
    columns whose IQR is zero, common for integer features); constant columns get scale 1.
    After scaling, values are clipped to ``[-clip, clip]`` so one absurd value cannot
    dominate a reconstruction loss (``clip=None`` disables it).
    """

    def __init__(
        self, *, nan_policy: str = "raise", scaling: str = "standard", clip: float | None = 1e3
    ) -> None:
        if nan_policy not in NAN_POLICIES:
            raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
        self.nan_policy, self.scaling, self.clip = nan_policy, scaling, clip
        self.shape: tuple[int, ...] | None = None
        self.columns: list[str] | None = None
        self.fill: np.ndarray | None = None
        self.center: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _finite(self, x: np.ndarray, name: str) -> np.ndarray:
        if np.isinf(x).any():
            raise ValueError(f"{name} contains infinite values")
        nan = np.isnan(x)
        if not nan.any():
            return x
        if self.nan_policy == "raise":
            cols = np.flatnonzero(nan.any(0))[:5].tolist()
            raise ValueError(
                f"{name} contains NaN (e.g. in feature columns {cols}); "
                "impute them or pass nan_policy='median'"
            )
        assert self.fill is not None
        return np.where(nan, self.fill, x)

    def fit(self, data: Any) -> np.ndarray:
        """Fit on training data and return it transformed, float32 ``(N, D)``."""
        x, self.shape, self.columns = to_matrix(data)
        nan = np.isnan(x)
        all_nan = np.flatnonzero(nan.all(0))
        if all_nan.size:
            names = [self.columns[i] for i in all_nan] if self.columns else all_nan[:5].tolist()
            raise ValueError(f"X has all-NaN feature columns {names}; drop them before fitting")
        if x.shape[0] < 2:
            raise ValueError(f"need at least 2 training samples, got {x.shape[0]}")
        with np.errstate(all="ignore"):
            self.fill = np.nanmedian(x, axis=0)
        x = self._finite(x, "X")
        # Statistics of x / (its largest magnitude), scaled back: values near 1e300 would
        # overflow x ** 2 in std() and give inf/NaN scales (then every row looks anomalous).
        mag = np.abs(x).max(0)
        mag = np.where(mag > 0, mag, 1.0)
        xs = x / mag
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            if self.scaling == "standard":
                center, scale = xs.mean(0) * mag, xs.std(0) * mag
            elif self.scaling == "robust":
                q1, center, q3 = np.percentile(xs, [25, 50, 75], axis=0)
                scale = (q3 - q1) * mag
                center = center * mag
                zero = scale <= 1e-12
                scale[zero] = (xs.std(0) * mag)[zero]
            else:
                center, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
        scale = np.where(scale <= 1e-12, 1.0, scale)
        self.center, self.scale = center, scale
        bad = ~(np.isfinite(center) & np.isfinite(scale))
        if bad.any():
            raise ValueError(
                f"X columns {self._names(np.flatnonzero(bad))} are too large to standardise "
                "(their mean or spread overflows float64); rescale them (e.g. log) before fitting"
            )
        return self._scale(x)

    def _names(self, idx: np.ndarray) -> list[Any]:
        """Column names (or indices) of feature positions ``idx``, at most five."""
        idx = idx[:5]
        return [self.columns[i] for i in idx] if self.columns else idx.tolist()

    def transform(self, data: Any, *, where: str = "X", excluded: Sequence[str] = ()) -> np.ndarray:
        """Transform new data with the fitted statistics; float32 ``(N, D)``.

        ``where`` prefixes error messages (e.g. ``"score"``); ``excluded`` names the columns left
        out at fit, for the hint when a raw array still carries them.
        """
        if self.center is None:
            raise RuntimeError("Preprocessor is not fitted")
        x, shape, columns = to_matrix(data)
        if shape != self.shape:
            raise ValueError(self._shape_message(where, (x.shape[0], *shape), excluded))
        if columns is not None and self.columns is not None and columns != self.columns:
            raise ValueError(f"X columns {columns} differ from the training columns {self.columns}")
        return self._scale(self._finite(x, "X"))

    def _shape_message(self, where: str, got: tuple[int, ...], excluded: Sequence[str]) -> str:
        """Say what width the detector expects, with the fitted column names when known."""
        from aigc_anomaly.columns import format_names

        assert self.shape is not None
        want = int(np.prod(self.shape))
        have = int(np.prod(got[1:]))
        names = f" (fitted columns {format_names(self.columns)})" if self.columns else ""
        if len(self.shape) == 1 and len(got) == 2:
            msg = f"{where}: input has shape {got}, {have} features per row, but the detector expects {want}"
            msg += names
            if excluded and have == want + len(excluded):
                msg += f"; drop the column(s) {list(excluded)} left out at fit, or pass a DataFrame"
            return msg
        return (
            f"{where}: input has per-sample shape {got[1:]}, but the detector was fitted on per-sample "
            f"shape {self.shape} ({want} features){names}"
        )

    def _scale(self, x: np.ndarray) -> np.ndarray:
        assert self.center is not None and self.scale is not None
        # Divide everything by a per-column magnitude first, so that x - center cannot overflow.
        m = np.maximum(np.maximum(np.abs(self.center), self.scale), 1.0)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            z = (x / m - self.center / m) / (self.scale / m)
        bad = (np.isnan(z) if self.clip is not None else ~np.isfinite(z)).any(0)
        if bad.any():
            raise ValueError(
                f"X columns {self._names(np.flatnonzero(bad))} give non-finite values after scaling "
                "(overflow); rescale them (e.g. log) first"
            )
        if self.clip is not None:
            z = np.clip(z, -self.clip, self.clip)
        return z.astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """``(json config, tensors)`` that rebuild this preprocessor with :meth:`from_state`."""
        assert self.center is not None and self.scale is not None and self.fill is not None
        cfg = {
            "nan_policy": self.nan_policy,
            "scaling": self.scaling,
            "clip": self.clip,
            "shape": list(self.shape or ()),
            "columns": self.columns,
        }
        tensors = {
            "prep.center": torch.from_numpy(self.center.copy()),
            "prep.scale": torch.from_numpy(self.scale.copy()),
            "prep.fill": torch.from_numpy(self.fill.copy()),
        }
        return cfg, tensors

    @classmethod
    def from_state(cls, cfg: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Preprocessor:
        """Rebuild from :meth:`state` output."""
        p = cls(nan_policy=cfg["nan_policy"], scaling=cfg["scaling"], clip=cfg["clip"])
        p.shape, p.columns = tuple(cfg["shape"]), cfg["columns"]
        p.center = tensors["prep.center"].numpy()
        p.scale = tensors["prep.scale"].numpy()
        p.fill = tensors["prep.fill"].numpy()
        return p
