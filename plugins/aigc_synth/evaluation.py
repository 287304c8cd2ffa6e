"""Scores for a synthetic table: fidelity, detectability, utility and privacy.

Fidelity, detection and distance to closest record come from the SDK's tabular metrics
(``aigc_metrics.tabular``, SDMetrics-compatible definitions). Utility follows the issue's
protocol: a GradientBoostingClassifier(random_state=0) trained on synthetic rows (TSTR),
on the real training rows (TRTR) and on both (augmentation), scored by ROC-AUC on held-out
real rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _metrics() -> Any:
    try:
        from aigc_metrics import tabular
    except ImportError as exc:  # the metrics plugin is a separate package
        raise ImportError(
            "synthetic-table evaluation needs the aigc_metrics plugin (aigc_metrics.tabular)"
        ) from exc
    return tabular


def classifier_auc(train: pd.DataFrame, test: pd.DataFrame, target: str, *, seed: int = 0) -> float:
    """ROC-AUC on ``test`` of a GradientBoostingClassifier fitted on ``train`` (one-hot features).

    Multi-class targets use the macro one-vs-rest AUC; a train set with one class gives NaN.
    """
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    feats = [c for c in train.columns if c != target]
    cats = [
        c
        for c in feats
        if not pd.api.types.is_numeric_dtype(train[c]) or pd.api.types.is_bool_dtype(train[c])
    ]
    x, xt = _features(train[feats], cats), _features(test[feats], cats)
    xt = xt.reindex(columns=x.columns, fill_value=0)
    fill = x.median()
    x, xt = x.fillna(fill).fillna(0), xt.fillna(fill).fillna(0)
    y, yt = train[target].astype(str).to_numpy(), test[target].astype(str).to_numpy()
    if len(np.unique(y)) < 2 or len(np.unique(yt)) < 2:
        return float("nan")
    model = GradientBoostingClassifier(random_state=seed).fit(x.to_numpy(), y)
    proba = model.predict_proba(xt.to_numpy())
    if len(model.classes_) == 2:
        return float(roc_auc_score(yt == model.classes_[1], proba[:, 1]))
    keep = np.isin(yt, model.classes_)
    return float(roc_auc_score(yt[keep], proba[keep], multi_class="ovr", labels=model.classes_))


def _features(df: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    """One-hot categories; numeric columns with gaps get a missing flag (GBC rejects NaN)."""
    flags = {f"{c}#na": df[c].isna().astype(float) for c in df.columns if c not in cats}
    out = pd.get_dummies(df, columns=cats, dummy_na=True, dtype=float)
    return pd.concat([out.astype(float), pd.DataFrame(flags, index=df.index)], axis=1)


def evaluate_synthetic(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    discrete_columns: Sequence[str],
    target: str | None = None,
    train: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare ``synthetic`` with held-out ``real`` rows (and with ``train`` when given).

    Returns quality (column shapes, pair trends), logistic detection, TSTR/TRTR/augmented
    ROC-AUC when ``target`` is set, and distance to closest record when ``train`` is set.
    """
    tab = _metrics()
    metadata = {c: ("categorical" if c in discrete_columns else "numerical") for c in real.columns}
    out: dict[str, Any] = {"rows_real": len(real), "rows_synthetic": len(synthetic)}
    out["quality"] = tab.quality_score(real, synthetic, metadata)
    out["column_shapes"] = tab.column_shapes(real, synthetic, metadata)
    out["detection"] = tab.detection_score(real, synthetic, metadata, seed=seed)
    if target is not None:
        util: dict[str, float] = {"tstr_auc": classifier_auc(synthetic, real, target, seed=seed)}
        if train is not None:
            util["trtr_auc"] = classifier_auc(train, real, target, seed=seed)
            both = pd.concat([train, synthetic[list(train.columns)]], ignore_index=True)
            util["augmented_auc"] = classifier_auc(both, real, target, seed=seed)
            util["augmentation_lift"] = util["augmented_auc"] - util["trtr_auc"]
        out["utility"] = util
    if train is not None:
        out["privacy"] = tab.distance_to_closest_record(train, synthetic, metadata, holdout=real)
    return _clean(out)


def _clean(obj: Any) -> Any:
    """Make a nested result strict-JSON safe (NaN -> None, numpy scalars -> Python)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_markdown(report: dict[str, Any]) -> str:
    """Render :meth:`Synthesizer.report`'s dict as a short Markdown document."""
    fit = report.get("fit", {})
    lines = [
        f"# Synthetic data report ({report.get('kind')})",
        "",
        f"- rows fitted: {fit.get('rows')}, columns: {len(fit.get('columns', []))}",
        f"- target: {fit.get('target')}",
        f"- fit time: {fit.get('fit_seconds')} s on {fit.get('threads')} thread(s)",
    ]
    dp = fit.get("privacy")
    if dp:
        lines.append(
            f"- differential privacy: epsilon {dp['epsilon_total']:.3f} "
            f"(encoding {dp['epsilon_schema']:.3f}), delta {dp['delta']:.3g}; "
            f"DP-SGD noise multiplier {dp['noise_multiplier']:.3g}, "
            f"clip {dp['max_grad_norm']:g}, {dp['steps']} steps at sampling rate {dp['sample_rate']:.3g}"
        )
    ev = report.get("evaluation")
    if ev:
        q, d = ev["quality"], ev["detection"]
        lines += [
            "",
            "| metric | value |",
            "|---|---|",
            f"| quality | {_f(q['quality'])} |",
            f"| column shapes | {_f(q['column_shapes'])} |",
            f"| column pair trends | {_f(q['column_pair_trends'])} |",
            f"| logistic detection | {_f(d['detection'])} |",
        ]
        for k, v in ev.get("utility", {}).items():
            lines.append(f"| {k.replace('_', ' ')} | {_f(v)} |")
        for k, v in ev.get("privacy", {}).items():
            lines.append(f"| {k.replace('_', ' ')} | {_f(v)} |")
    for title, rep in (
        ("Privacy report (fresh sample after the fit)", fit.get("privacy_report")),
        ("Privacy report (evaluation sample, real holdout as baseline)", (ev or {}).get("privacy_report")),
    ):
        if rep:
            lines += ["", f"## {title}", "", *_privacy_lines(rep)]
    notes = fit.get("notes") or []
    if notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def _privacy_lines(rep: dict[str, Any]) -> list[str]:
    base = "real holdout" if rep["baseline"] == "holdout" else "training rows, leave-one-out"
    share = rep.get("rare_category_share")
    return [
        f"Distance to closest training record ({rep['distance']}); baseline: {base}.",
        "",
        "| figure | synthetic | baseline |",
        "|---|---|---|",
        f"| DCR median | {_f(rep['dcr_synthetic_median'])} | {_f(rep['dcr_baseline_median'])} |",
        f"| DCR 5th percentile | {_f(rep['dcr_synthetic_p05'])} | {_f(rep['dcr_baseline_p05'])} |",
        f"| exact copies of training rows | {rep['exact_copies']} of {rep['rows_synthetic']} | |",
        f"| rare categories (<= 2 training rows) reproduced | {rep['rare_categories_reproduced']} of "
        f"{rep['rare_categories']} ({'n/a' if share is None else f'{share:.0%}'}) | |",
    ]


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"
