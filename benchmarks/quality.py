"""Generation-quality protocol: train a model with its defaults (or a config), then score fidelity
and diversity together -- FID, KID, precision, recall, density, coverage and CAS -- with the
data-trained classifier extractor, n generated samples against n real training samples.

    python benchmarks/quality.py --model cgan --dataset mnist5k --seeds 0,1,2 --steps 3000
    python benchmarks/quality.py --model cvae --dataset mnist5k --seeds 0,1,2 --steps 2500
    python benchmarks/quality.py --model cgan --dataset fashion-mnist --steps 6000 --config '{"channels": 64}'

One JSON line per (model, seed) goes to stdout, then a Markdown table of the medians; ``--out``
also writes both to a JSON file. Run it on a quiet machine: training time is part of the result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

METRICS = ("fid", "kid", "precision", "recall", "density", "coverage", "cas")


def run_one(
    model_name: str,
    dataset: str,
    seed: int,
    steps: int,
    config: dict[str, Any],
    n: int,
    batch_size: int,
    trainer_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``model_name`` on ``dataset`` with ``seed`` and return its scores and training time."""
    import torch

    import aigc_sdk
    from aigc_sdk.evaluation import evaluate_model
    from aigc_sdk.training import Trainer

    torch.manual_seed(seed)
    provider = aigc_sdk.load_dataset(dataset)
    model = aigc_sdk.create_model(model_name, dataset=dataset, **config)
    t0 = time.perf_counter()
    Trainer(
        model,
        provider,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        device="cpu",
        progress=False,
        **(trainer_options or {}),
    ).fit()
    train_s = time.perf_counter() - t0
    model.eval()
    report = evaluate_model(model, dataset=dataset, n=n, seed=seed)
    return {
        "model": model_name,
        "dataset": dataset,
        "seed": seed,
        "steps": steps,
        "config": config,
        "trainer": trainer_options or {},
        "train_s": round(train_s, 1),
        "threads": torch.get_num_threads(),
        "extractor": report["extractor"],
        "n_real": report["n_real"],
        "n_fake": report["n_fake"],
        **{k: report["metrics"].get(k) for k in METRICS},
    }


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-metric medians over seeds (``None`` where a metric was not computed)."""
    out: dict[str, Any] = {"seeds": [r["seed"] for r in rows]}
    for k in (*METRICS, "train_s"):
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def markdown(label: str, med: dict[str, Any]) -> str:
    """One Markdown table row of medians."""
    cells = [label] + [
        "n/a" if med[k] is None else (f"{med[k]:.4f}" if k == "kid" else f"{med[k]:.3f}") for k in METRICS
    ]
    cells.append("n/a" if med["train_s"] is None else f"{med['train_s']:.0f}")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="cgan")
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n", type=int, default=1000, help="generated and real samples (default 1000)")
    p.add_argument("--config", default="{}", help="model config overrides as JSON")
    p.add_argument(
        "--trainer", default="{}", help='Trainer options as JSON, e.g. \'{"lr_schedule": "cosine"}\''
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="also write the rows and medians to this JSON file")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    config = json.loads(args.config)
    if not isinstance(config, dict):
        p.error("--config must be a JSON object")
    trainer_options = json.loads(args.trainer)
    if not isinstance(trainer_options, dict):
        p.error("--trainer must be a JSON object")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
        row = run_one(
            args.model, args.dataset, seed, args.steps, config, args.n, args.batch_size, trainer_options
        )
        print(json.dumps(row), flush=True)
        rows.append(row)
    med = median_row(rows)
    header = "| model | " + " | ".join(METRICS) + " | train s |"
    print(header)
    print("|" + "---|" * (len(METRICS) + 2))
    print(markdown(f"{args.model} {args.dataset} {args.steps} steps", med))
    if args.out:
        from aigc_sdk.io import write_json

        write_json(args.out, {"rows": rows, "median": med, "argv": sys.argv[1:]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
