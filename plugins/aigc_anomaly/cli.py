"""``aigc anomaly fit|score``: fit a detector on a CSV / .npy file, score new rows.

Heavy imports (torch, pandas) happen inside the handlers so ``aigc --help`` stays fast.
Outputs are written atomically: the model as ``config.json`` + ``model.safetensors``, scores
as CSV, reports as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _read_table(path: str, label_col: str | None) -> tuple[Any, Any]:
    """``(features, labels or None)`` from a CSV (header required) or a .npy array."""
    if path.endswith(".npy"):
        import numpy as np

        if label_col:
            raise ValueError("--label-column needs a CSV input")
        arr = np.load(path, allow_pickle=False)
        if np.iscomplexobj(arr):
            from aigc_sdk.errors import UsageError

            raise UsageError(f"{path}: dtype {arr.dtype} is complex; expected real numbers (e.g. float32)")
        return arr, None
    import pandas as pd

    df = pd.read_csv(path)
    if label_col is None:
        return df, None
    if label_col not in df.columns:
        raise ValueError(f"label column {label_col!r} not in {list(df.columns)}")
    return df.drop(columns=[label_col]), df[label_col].to_numpy()


def _fit(args: argparse.Namespace) -> int:
    from aigc_anomaly.detector import Detector
    from aigc_sdk.io import check_output_path, write_json

    check_output_path(args.out, "--out", kind="dir")
    X, _ = _read_table(args.data, args.ignore_column)
    options = json.loads(args.options) if args.options else {}
    det = Detector(
        args.kind,
        epochs=args.epochs,
        contamination=args.contamination,
        nan_policy=args.nan_policy,
        seed=args.seed,
        **options,
    )
    det.fit(X)
    det.save(args.out)
    write_json(Path(args.out) / "report.json", det.report())
    print(
        f"fitted {args.kind} detector on {det.report()['n_train']} rows in "
        f"{det.report()['fit_seconds']:.1f} s -> {args.out}"
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    import numpy as np

    from aigc_anomaly.detector import Detector
    from aigc_sdk.io import atomic_write_text, check_output_path, write_json

    check_output_path(args.out, "--out", kind="file")
    if args.report:
        check_output_path(args.report, "--report", kind="file")
    det = Detector.load(args.model)
    X, y = _read_table(args.data, args.label_column)
    scores = det.score(X)
    flags = (scores > det.threshold).astype(np.int64)
    lines = ["score,is_anomaly", *(f"{s:.10g},{f}" for s, f in zip(scores, flags))]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"scored {len(scores)} rows ({int(flags.sum())} flagged) -> {args.out}")
    if y is not None:
        metrics = det.evaluate(X, y)
        print("  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if args.report:
            write_json(args.report, det.report())
    return 0


def add_parser(subparsers: Any) -> None:
    """Add the ``anomaly`` command with ``fit`` and ``score`` sub-commands."""
    p = subparsers.add_parser("anomaly", help="anomaly / fraud detection with AE and VAE (fit, score)")
    sub = p.add_subparsers(dest="anomaly_command", metavar="ACTION", required=True)

    f = sub.add_parser("fit", help="fit a detector on unlabelled rows (CSV with header, or .npy)")
    f.add_argument("data", help="training data: CSV (numeric columns) or .npy")
    f.add_argument("--out", required=True, help="directory for config.json + model.safetensors + report.json")
    f.add_argument("--kind", choices=["ae", "vae"], default="ae")
    f.add_argument("--epochs", type=int, default=10)
    f.add_argument("--contamination", type=float, default=0.1, help="expected anomaly fraction (threshold)")
    f.add_argument("--nan-policy", choices=["raise", "median"], default="raise")
    f.add_argument("--ignore-column", help="a column to drop before fitting (e.g. a label)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--options", help="JSON dict of further Detector options")
    f.set_defaults(func=_fit)

    s = sub.add_parser("score", help="score rows with a saved detector (higher = more anomalous)")
    s.add_argument("model", help="directory written by `aigc anomaly fit`")
    s.add_argument("data", help="CSV or .npy with the training columns")
    s.add_argument("--out", required=True, help="CSV of score,is_anomaly per row")
    s.add_argument("--label-column", help="0/1 label column: also print ROC-AUC and AP")
    s.add_argument("--report", help="write the JSON report (with metrics) here")
    s.set_defaults(func=_score)
