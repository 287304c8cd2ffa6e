"""``aigc anomaly fit|score``: fit a detector on a CSV / .npy file, score new rows.

Heavy imports (torch, pandas) happen inside the handlers so ``aigc --help`` stays fast.
Outputs are written atomically: the model as ``config.json`` + ``model.safetensors``, scores
as CSV, reports as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any


def _read_table(path: str, label_col: str | None, *, required: bool = True) -> tuple[Any, Any]:
    """``(table, labels or None)`` from a CSV (header required) or a .npy array; a ``label_col``
    is split off (an error if it is absent, unless ``required=False``)."""
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
        if not required:
            return df, None
        raise ValueError(f"label column {label_col!r} not in {list(df.columns)}")
    return df.drop(columns=[label_col]), df[label_col].to_numpy()


def _threads(args: argparse.Namespace) -> int | None:
    """``--threads`` checked here so the error names the flag, not the Python argument."""
    if args.threads is not None and args.threads < 1:
        from aigc_sdk.errors import UsageError

        raise UsageError(f"--threads must be a positive int, got {args.threads}")
    return args.threads


def _fit(args: argparse.Namespace) -> int:
    from aigc_anomaly.columns import ExcludedColumnsWarning
    from aigc_anomaly.detector import Detector
    from aigc_sdk.io import check_output_path, write_json

    check_output_path(args.out, "--out", kind="dir")
    threads = _threads(args)
    declared = args.label_column or args.id_column or args.ignore_column
    if declared and args.data.endswith(".npy"):
        raise ValueError("--label-column, --id-column and --ignore-column need a CSV input")
    X, _ = _read_table(args.data, None)
    options = json.loads(args.options) if args.options else {}
    det = Detector(
        args.kind,
        epochs=args.epochs,
        contamination=args.contamination,
        nan_policy=args.nan_policy,
        seed=args.seed,
        **options,
    )
    columns: dict[str, Any] = {}
    if not args.data.endswith(".npy"):
        columns = {
            "label_column": args.label_column,
            "id_columns": args.id_column,
            "exclude": args.ignore_column,
            "detect_columns": not args.no_detect_columns,
        }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExcludedColumnsWarning)
        det.fit(X, num_threads=threads, **columns)
    for w in caught:
        if isinstance(w.message, ExcludedColumnsWarning):  # rephrased with the CLI's flags
            listed = ", ".join(f"{n!r} ({r})" for n, r in w.message.reasons.items())
            print(
                f"warning: left column(s) out of the features: {listed}; declare them with "
                "--label-column / --id-column / --ignore-column, or pass --no-detect-columns to keep them",
                file=sys.stderr,
            )
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    det.save(args.out)
    rep = det.report()
    write_json(Path(args.out) / "report.json", rep)
    print(f"fitted {args.kind} detector on {rep['n_train']} rows in {rep['fit_seconds']:.1f} s -> {args.out}")
    excluded = rep.get("columns", {}).get("excluded")
    if excluded:
        print(f"  not features: {', '.join(excluded)}")
    if "train_evaluation" in rep:
        ev = rep["train_evaluation"]
        print(
            f"  on the training rows against {ev['label_column']!r}: "
            f"roc_auc {ev['roc_auc']:.4f}  average_precision {ev['average_precision']:.4f}"
        )
    return 0


def _score(args: argparse.Namespace) -> int:
    import numpy as np

    from aigc_anomaly.detector import Detector
    from aigc_sdk.io import atomic_write_text, check_output_path, write_json

    check_output_path(args.out, "--out", kind="file")
    if args.report:
        check_output_path(args.report, "--report", kind="file")
    threads = _threads(args)
    det = Detector.load(args.model)
    label = args.label_column
    if label is None and not args.data.endswith(".npy"):
        label = det.column_roles.label  # the label found at fit, used when the CSV has it
    X, y = _read_table(args.data, label, required=args.label_column is not None)
    if args.label_column is None and y is not None and set(np.unique(y).tolist()) != {0, 1}:
        y = None  # a found label that is not 0/1 (e.g. several classes): score only, no metrics
    scores = det.score(X, num_threads=threads)
    flags = (scores > det.threshold).astype(np.int64)
    lines = ["score,is_anomaly", *(f"{s:.10g},{f}" for s, f in zip(scores, flags))]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"scored {len(scores)} rows ({int(flags.sum())} flagged) -> {args.out}")
    if y is not None:
        metrics = det.evaluate(X, y, num_threads=threads)
        print(f"  against {label!r}: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if args.report:
            write_json(args.report, det.report())
    return 0


def add_parser(subparsers: Any) -> None:
    """Add the ``anomaly`` command with ``fit`` and ``score`` sub-commands."""
    p = subparsers.add_parser(
        "anomaly", help="anomaly / fraud detection: ensemble, AE or VAE detectors (fit, score)"
    )
    sub = p.add_subparsers(dest="anomaly_command", metavar="ACTION", required=True)

    f = sub.add_parser("fit", help="fit a detector on unlabelled rows (CSV with header, or .npy)")
    f.add_argument("data", help="training data: CSV (numeric columns) or .npy")
    f.add_argument("--out", required=True, help="directory for config.json + model.safetensors + report.json")
    f.add_argument(
        "--kind",
        choices=["ensemble", "ae", "vae"],  # the detector's KINDS (not imported: torch is heavy)
        default="ensemble",
        help="ensemble (default: network + isolation forest + ECOD; rotation CNN + forest for images), "
        "ae or vae (the network alone)",
    )
    f.add_argument("--epochs", type=int, default=10)
    f.add_argument("--contamination", type=float, default=0.1, help="expected anomaly fraction (threshold)")
    f.add_argument("--nan-policy", choices=["raise", "median"], default="raise")
    f.add_argument(
        "--label-column", help="0/1 ground-truth column: not a feature; the report gets ROC-AUC and AP"
    )
    f.add_argument("--id-column", action="append", help="a row-ID column, not a feature (repeatable)")
    f.add_argument("--ignore-column", action="append", help="a column left out of the features (repeatable)")
    f.add_argument(
        "--no-detect-columns",
        action="store_true",
        help="keep columns that look like labels or IDs as features (default: left out, with a warning)",
    )
    f.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's setting)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--options", help="JSON dict of further Detector options")
    f.set_defaults(func=_fit)

    s = sub.add_parser("score", help="score rows with a saved detector (higher = more anomalous)")
    s.add_argument("model", help="directory written by `aigc anomaly fit`")
    s.add_argument("data", help="CSV or .npy with the training columns")
    s.add_argument("--out", required=True, help="CSV of score,is_anomaly per row")
    s.add_argument(
        "--label-column",
        help="0/1 label column: also print ROC-AUC and AP (default: the fit's label column, if present)",
    )
    s.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's setting)")
    s.add_argument("--report", help="write the JSON report (with metrics) here")
    s.set_defaults(func=_score)
