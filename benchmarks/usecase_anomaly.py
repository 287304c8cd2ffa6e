"""Anomaly-detection protocol for the ``anomaly`` use-case: four data sets, the default detector
against scikit-learn's IsolationForest and the SDK's autoencoder alone.

Data sets (offline, from installed packages; ``river`` for two of them):

* ``shuttle``: river's ``datasets/shuttle.csv.gz``, 49,097 rows, 9 features, 7.15% anomalies.
* ``breast-cancer``: scikit-learn's breast cancer set; benign rows are normal, malignant rows are
  drawn (without replacement, per seed) to make 10% of the set.
* ``fashion-mnist``: the training images of Fashion-MNIST (Debian's ``dataset-fashion-mnist``),
  one class normal (``--fashion-classes``, default 0), images of the other classes drawn to 5%;
  passed as images ``(N, 1, 28, 28)``.
* ``segment``: river's UCI image-segmentation table (2,310 rows, 18 features, 7 classes); class
  number ``seed % 7`` is the anomaly, drawn to 5%, the other six are normal.

Per seed: a stratified 70/30 split; every method is fit on the training part without labels and
scored on the test part (ROC-AUC and average precision). The baselines get a StandardScaler fit
on the training part and flattened images; the SDK's detectors scale for themselves.

    python benchmarks/usecase_anomaly.py [--sets shuttle,breast-cancer,fashion-mnist,segment]
        [--seeds 0,1,2] [--threads 2] [--kind ensemble] [--config JSON] [--json out.json]
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
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

SETS = ("shuttle", "breast-cancer", "fashion-mnist", "segment")


def river_file(name: str) -> str:
    """Path of a data file shipped with river (raises ImportError without river)."""
    spec = importlib.util.find_spec("river")
    if spec is None or spec.origin is None:
        raise ImportError("this data set comes with river: pip install river")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found in the installed river package")
    return path


def load_shuttle() -> tuple[np.ndarray, np.ndarray]:
    """``(X (49097, 9) float64, y)`` with y = 1 for anomalies."""
    with gzip.open(river_file("shuttle.csv.gz"), "rt") as fh:
        header = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",", dtype=np.float64)
    label = header.index("anomaly")
    return np.delete(data, label, axis=1), data[:, label].astype(np.int64)


def contaminate(
    normal: np.ndarray, anomalies: np.ndarray, rate: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """All ``normal`` rows plus anomalies drawn so they are ``rate`` of the result."""
    rng = np.random.default_rng(seed)
    n = min(round(rate * len(normal) / (1 - rate)), len(anomalies))
    picked = anomalies[rng.choice(len(anomalies), size=n, replace=False)]
    return np.concatenate([normal, picked]), np.r_[np.zeros(len(normal)), np.ones(n)].astype(np.int64)


def breast_cancer(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Benign rows + malignant rows drawn to 10%."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return contaminate(data.data[data.target == 1], data.data[data.target == 0], 0.10, seed)


def segment(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Six image-segmentation classes normal, class ``seed % 7`` drawn to 5%."""
    with zipfile.ZipFile(river_file("segment.csv.zip")) as z:
        text = z.read(z.namelist()[0]).decode()
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    x = np.array([[float(v) for v in r[:-1]] for r in rows])
    names = np.array([r[-1] for r in rows])
    anomaly = sorted(set(names))[seed % 7]
    return contaminate(x[names != anomaly], x[names == anomaly], 0.05, seed)


_FASHION: list[tuple[np.ndarray, np.ndarray]] = []


def fashion_mnist(normal_class: int) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """A loader for the one-class Fashion-MNIST split with ``normal_class`` normal."""

    def load(seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The split for ``seed`` (the images are read once and kept)."""
        if not _FASHION:
            import aigc_sdk

            x, labels = aigc_sdk.load_dataset("fashion-mnist").load("train").tensors
            _FASHION.append((x.numpy().astype(np.float32), labels.numpy()))
        x, labels = _FASHION[0]
        xs, y = contaminate(x[labels == normal_class], x[labels != normal_class], 0.05, seed)
        return xs.astype(np.float32), y

    return load


def scores_and_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC-AUC and average precision."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
    }


def run_seed(
    load: Callable[[int], tuple[np.ndarray, np.ndarray]], seed: int, ours: dict[str, Any]
) -> dict[str, Any]:
    """One split: every method's metrics and fit seconds."""
    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from aigc_anomaly.detector import Detector

    x, y = load(seed)
    x_tr, x_te, _, y_te = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    out: dict[str, Any] = {}
    for name, options in (("ours", ours), ("sdk-ae", {"kind": "ae"})):
        det = Detector(seed=seed, **options)
        t0 = time.perf_counter()
        det.fit(x_tr)
        out[name] = {**scores_and_metrics(y_te, det.score(x_te)), "fit_seconds": time.perf_counter() - t0}
    flat_tr, flat_te = x_tr.reshape(len(x_tr), -1), x_te.reshape(len(x_te), -1)
    scaler = StandardScaler().fit(flat_tr)
    t0 = time.perf_counter()
    forest = IsolationForest(random_state=seed).fit(scaler.transform(flat_tr))
    fit_s = time.perf_counter() - t0
    out["iforest"] = {
        **scores_and_metrics(y_te, -forest.score_samples(scaler.transform(flat_te))),
        "fit_seconds": fit_s,
    }
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main(argv: list[str] | None = None) -> int:
    """Run the protocol, print per-seed lines, a table and the verdicts; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--fashion-classes", default="0", help="normal classes of the Fashion-MNIST splits")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kind", help="the detector kind under test (default: the Detector's default)")
    parser.add_argument("--config", default="{}", help="JSON dict of further Detector options")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    ours = json.loads(args.config) | ({"kind": args.kind} if args.kind else {})
    loaders: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray]]] = {}
    for name in args.sets.split(","):
        if name == "fashion-mnist":
            for c in args.fashion_classes.split(","):
                loaders[f"fashion-mnist/c{c}"] = fashion_mnist(int(c))
        elif name in SETS:
            loaders[name] = {
                "shuttle": lambda s: load_shuttle(),
                "breast-cancer": breast_cancer,
                "segment": segment,
            }[name]
        else:
            parser.error(f"--sets: unknown data set {name!r}; choose from {SETS}")
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, Any] = {"threads": args.threads, "ours": ours, "sets": {}}
    table = ["| data set | method | ROC-AUC | AP | fit s |", "|---|---|---|---|---|"]
    verdicts, wins, far_below = [], 0, []
    for set_name, load in loaders.items():
        try:
            per_seed = [run_seed(load, seed, ours) for seed in seeds]
        except (ImportError, FileNotFoundError) as exc:
            print(f"{set_name}: skipped ({exc})")
            continue
        for seed, row in zip(seeds, per_seed, strict=True):
            print(
                set_name,
                seed,
                json.dumps({m: {k: round(v, 4) for k, v in r.items()} for m, r in row.items()}),
                flush=True,
            )
        summary = {
            m: {k: mean_std([row[m][k] for row in per_seed]) for k in per_seed[0][m]} for m in per_seed[0]
        }
        results["sets"][set_name] = {"per_seed": per_seed, "summary": summary}
        for m, s in summary.items():
            table.append(
                f"| {set_name} | {m} | {s['roc_auc'][0]:.4f} ± {s['roc_auc'][1]:.4f} | "
                f"{s['average_precision'][0]:.4f} ± {s['average_precision'][1]:.4f} | "
                f"{s['fit_seconds'][0]:.1f} |"
            )
        d_auc = summary["ours"]["roc_auc"][0] - summary["iforest"]["roc_auc"][0]
        d_ap = summary["ours"]["average_precision"][0] - summary["iforest"]["average_precision"][0]
        beats = d_auc > 0 and d_ap > 0
        wins += beats
        if d_auc < -0.01:
            far_below.append(set_name)
        verdicts.append(
            f"{set_name}: ours beats iforest on AUC and AP: {'yes' if beats else 'no'} "
            f"(AUC {d_auc:+.4f}, AP {d_ap:+.4f})"
        )
    print("\n".join(["", *table, "", *verdicts]))
    print(
        f"ours beats iforest on both on {wins} of {len(verdicts)} data sets; "
        f"more than 0.01 AUC below it on: {', '.join(far_below) or 'none'}"
    )
    results["wins"], results["far_below"] = wins, far_below
    if args.json_out:
        from aigc_sdk.io import write_json

        write_json(args.json_out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
