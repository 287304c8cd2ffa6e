"""Shuttle anomaly-detection protocol for the ``anomaly`` use-case (issue 6, part 2).

Data: river's ``datasets/shuttle.csv.gz`` (49,097 rows, 9 features, 7.15% anomalies; install
``river`` to get it). Per seed (0, 1, 2): stratified 70/30 split, StandardScaler fit on the
training part, unsupervised fit on the training features (labels unused), ROC-AUC and average
precision on the test part. Bar: ROC-AUC >= 0.995 and AP >= 0.95 (mean over seeds), fit <= 30 s.

    python benchmarks/usecase_anomaly.py [--kind ae|vae|both] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import statistics
import sys
import time
from typing import Any

ANCHORS = {"pyod-ae": (0.982, 0.705, 28.0), "pyod-vae": (0.919, 0.487, 457.0), "iforest": (0.997, 0.980, 0.1)}
BAR = {"roc_auc": 0.995, "average_precision": 0.95, "fit_seconds": 30.0}


def shuttle_path() -> str:
    """Path of river's copy of the Shuttle data set (raises ImportError without river)."""
    spec = importlib.util.find_spec("river")
    if spec is None or spec.origin is None:
        raise ImportError("the Shuttle protocol needs river's copy of the data: pip install river")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "shuttle.csv.gz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found in the installed river package")
    return path


def load_shuttle() -> tuple[Any, Any]:
    """``(X (49097, 9) float64, y (49097,) int64)`` with y = 1 for anomalies."""
    import numpy as np

    with gzip.open(shuttle_path(), "rt") as fh:
        header = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",", dtype=np.float64)
    label = header.index("anomaly")
    y = data[:, label].astype(np.int64)
    return np.delete(data, label, axis=1), y


def run_seed(kind: str, seed: int, X: Any, y: Any, **config: Any) -> dict[str, float]:
    """One split of the protocol; returns ROC-AUC, AP and fit seconds."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from aigc_anomaly.detector import Detector

    x_tr, x_te, _, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_tr)
    x_tr, x_te = scaler.transform(x_tr), scaler.transform(x_te)
    det = Detector(kind, seed=seed, **config)
    t0 = time.perf_counter()
    det.fit(x_tr)
    fit_s = time.perf_counter() - t0
    metrics = det.evaluate(x_te, y_te)
    return {**metrics, "fit_seconds": fit_s}


def summarise(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every metric."""
    out: dict[str, Any] = {}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        out[key] = {"mean": statistics.fmean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the protocol and print a table (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["ae", "vae", "both"], default="both")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--config", default="{}", help="JSON dict of Detector options")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    X, y = load_shuttle()
    print(
        f"shuttle: {X.shape[0]} rows, {X.shape[1]} features, anomalies {y.mean():.4f}; threads={args.threads}"
    )
    results: dict[str, Any] = {"threads": args.threads, "anchors": ANCHORS, "bar": BAR}
    kinds = ["ae", "vae"] if args.kind == "both" else [args.kind]
    for kind in kinds:
        rows = []
        for seed in (int(s) for s in args.seeds.split(",")):
            row = run_seed(kind, seed, X, y, **json.loads(args.config))
            rows.append(row)
            print(
                f"  {kind} seed {seed}: ROC-AUC {row['roc_auc']:.4f}  AP {row['average_precision']:.4f}  "
                f"fit {row['fit_seconds']:.1f} s",
                flush=True,
            )
        s = summarise(rows)
        met = all(s[k]["mean"] >= BAR[k] for k in ("roc_auc", "average_precision")) and (
            s["fit_seconds"]["mean"] <= BAR["fit_seconds"]
        )
        print(
            f"{kind}: ROC-AUC {s['roc_auc']['mean']:.4f} ± {s['roc_auc']['std']:.4f}  "
            f"AP {s['average_precision']['mean']:.4f} ± {s['average_precision']['std']:.4f}  "
            f"fit {s['fit_seconds']['mean']:.1f} ± {s['fit_seconds']['std']:.1f} s  "
            f"bar {'MET' if met else 'NOT met'}"
        )
        results[kind] = {"per_seed": rows, "summary": s, "bar_met": met}
    if args.json_out:
        from aigc_sdk.io import write_json

        write_json(args.json_out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
