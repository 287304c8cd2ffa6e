"""``aigc demo``: the main job. Trains a class-conditional GAN and a conditional VAE on MNIST-5k
on the CPU, writes sample grids and a report (JSON + Markdown), and leaves saved models that
``aigc sample`` loads.

Each model is scored on fidelity and diversity together, with the data-trained classifier
extractor (its weight hash is in its name): FID, KID, precision, recall, density and coverage of
generated samples against real training samples, the classification accuracy score (CAS) of
class-conditioned samples, and for the VAE its importance-weighted (IWAE) negative
log-likelihood of the test split. The report warns in words when recall or precision is low
(mode collapse, low fidelity): one number alone, CAS in particular, cannot say a model is good.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

#: Model configs of the main job: the models' own defaults, chosen by measurement
#: (docs/models.md has the ablation), at widths that fit the CPU budget.
GAN_CONFIG: dict[str, Any] = {}
VAE_CONFIG: dict[str, Any] = {"beta": 2.0}
#: Metrics of the report, in order (``iwae`` only for the likelihood model).
METRICS = ("fid", "kid", "prc", "dc", "cas")
FULL: dict[str, Any] = {
    "gan_steps": 3000,
    "vae_steps": 2500,
    "batch_size": 64,
    "eval_samples": 1000,
    "iwae_k": 100,
}
QUICK: dict[str, Any] = {
    "gan_steps": 20,
    "vae_steps": 20,
    "batch_size": 32,
    "eval_samples": 100,
    "iwae_k": 5,
}


def add_parser(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    p = subparsers.add_parser(
        "demo",
        help="train a conditional GAN and a conditional VAE on MNIST-5k and report their quality",
        description="The main job: trains a class-conditional GAN and a conditional VAE on the CPU "
        "(about 10 minutes on 2 cores), writes sample grids, report.json and report.md, and saves both "
        "models (load them with `aigc sample OUT/cgan/model ...`).",
    )
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--quick", action="store_true", help="a few steps only (< 1 minute), for smoke tests")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--dataset", default="mnist5k", help="labelled image data set (default mnist5k)")
    p.add_argument("--gan-steps", type=int, default=None, help="override the GAN's step count")
    p.add_argument("--vae-steps", type=int, default=None, help="override the VAE's step count")
    p.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)"
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force progress bars on/off (default: on when stderr is a terminal)",
    )
    p.set_defaults(func=run)


def run_demo(
    out: str | Path = "runs/demo",
    *,
    quick: bool = False,
    seed: int = 0,
    dataset: str = "mnist5k",
    gan_steps: int | None = None,
    vae_steps: int | None = None,
    progress: bool | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Run the main job and return the report (also written to ``out/report.json``).

    A second run into the same ``out`` replaces the first one's models and report.
    """
    import torch

    import aigc_sdk
    from aigc_sdk.evaluation import evaluate_model, quality_warnings
    from aigc_sdk.io import atomic_write_text, save_image_grid, save_model, write_json
    from aigc_sdk.training import Trainer

    plan = dict(QUICK if quick else FULL)
    if gan_steps is not None:
        plan["gan_steps"] = gan_steps
    if vae_steps is not None:
        plan["vae_steps"] = vae_steps
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    provider = aigc_sdk.load_dataset(dataset)
    if not provider.num_classes or len(provider.sample_shape) != 3:
        raise ValueError(f"dataset {dataset!r} must be a labelled image data set")
    k = int(provider.num_classes)
    spec = {"data_shape": list(provider.sample_shape), "num_classes": k}
    report: dict[str, Any] = {
        "dataset": dataset,
        "quick": quick,
        "seed": seed,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "plan": plan,
        "models": {},
    }

    runs = (("cgan", "cgan", GAN_CONFIG, plan["gan_steps"]), ("cvae", "cvae", VAE_CONFIG, plan["vae_steps"]))
    models: dict[str, Any] = {}
    for key, name, config, steps in runs:
        log(f"[demo] training {name} for {steps} steps ...")
        torch.manual_seed(seed)
        model = aigc_sdk.create_model(name, **spec, **config)
        trainer = Trainer(
            model,
            provider,
            steps=steps,
            batch_size=plan["batch_size"],
            out_dir=out / key,
            seed=seed,
            device="cpu",
            sample_every=max(1, steps // 4),
            sample_count=100,
            keep_last=1,
            progress=progress,
            log_every=10,
            overwrite=True,  # the demo's directories hold the previous demo run, replaced whole
        )
        metrics = trainer.fit()
        save_model(model, out / key / "model", name=name)
        labels = torch.arange(100) % k
        grid = model.sample(100, generator=torch.Generator().manual_seed(seed), condition=labels)
        save_image_grid(grid, out / f"{key}_samples.png", nrow=k)
        models[key] = model
        report["models"][key] = {
            "model": name,
            "config": model.get_config(),
            "steps": steps,
            "train_wall_time_s": round(metrics["wall_time_s"], 2),
            "steps_per_s": round(metrics["steps_per_s"], 2),
            "final_metrics": {
                m: round(v, 4) for m, v in metrics.items() if m not in ("steps", "wall_time_s", "steps_per_s")
            },
            "saved_model": str(out / key / "model"),
            "samples_png": str(out / f"{key}_samples.png"),
        }
        log(
            f"[demo] {name}: {steps} steps in {metrics['wall_time_s']:.1f}s "
            f"({metrics['steps_per_s']:.1f} steps/s)"
        )

    # --- fidelity and diversity together, with the data-trained classifier's features
    t_eval = time.perf_counter()
    for key, model in models.items():
        metrics_wanted = (*METRICS, "iwae") if hasattr(model, "log_likelihood") else METRICS
        try:
            ev = evaluate_model(
                model,
                dataset=dataset,
                metrics=metrics_wanted,
                n=plan["eval_samples"],
                seed=seed,
                iwae_k=plan["iwae_k"],
            )
        except (ImportError, KeyError, LookupError) as exc:  # the metrics plugin is optional
            report["models"][key]["eval_error"] = f"{type(exc).__name__}: {exc}"
            log(f"[demo] {key}: evaluation skipped: {report['models'][key]['eval_error']}")
            continue
        entry = report["models"][key]
        entry["metrics"] = {m: round(v, 5) for m, v in ev["metrics"].items()}
        entry["n_real"], entry["n_fake"] = ev["n_real"], ev["n_fake"]
        entry["extractor"] = ev["extractor"]
        entry["warnings"] = quality_warnings(ev["metrics"])
        if "iwae" in ev.get("metric_info", {}):
            entry["iwae_info"] = ev["metric_info"]["iwae"]
        report["classifier"] = {
            "name": ev.get("classifier"),
            "test_accuracy": ev.get("classifier_test_accuracy"),
        }
        for w in entry["warnings"]:
            log(f"[demo] WARNING {key}: {w}")
    report["eval_wall_time_s"] = round(time.perf_counter() - t_eval, 2)
    report["total_wall_time_s"] = round(time.perf_counter() - t_start, 2)
    write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", _markdown(report))
    log(f"[demo] done in {report['total_wall_time_s']:.1f}s; report: {out / 'report.md'}")
    return report


#: Columns of the report table: (metric key, heading, format).
_COLUMNS = (
    ("fid", "FID ↓", "{:.2f}"),
    ("kid", "KID ↓", "{:.4f}"),
    ("precision", "precision ↑", "{:.3f}"),
    ("recall", "recall ↑", "{:.3f}"),
    ("density", "density", "{:.3f}"),
    ("coverage", "coverage ↑", "{:.3f}"),
    ("cas", "CAS ↑", "{:.3f}"),
    ("iwae_nll", "IWAE NLL (nats) ↓", "{:.2f}"),
)


def _markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# aigc demo report ({r['dataset']}{', quick' if r['quick'] else ''})",
        "",
        f"Total wall time: **{r['total_wall_time_s']:.1f} s** on CPU ({r['torch_threads']} torch threads); "
        f"evaluation {r['eval_wall_time_s']:.1f} s.",
        "",
    ]
    clf = r.get("classifier") or {}
    scored = [m for m in r["models"].values() if "metrics" in m]
    if scored:
        first = scored[0]
        lines += [
            f"Scored with the feature extractor `{first['extractor']}` (data-trained classifier, test "
            f"accuracy {100 * float(clf.get('test_accuracy') or 0):.2f}%): {first['n_fake']} generated "
            f"vs {first['n_real']} real training samples, seed {r['seed']}. Values are comparable only "
            "between reports with the same extractor name. Precision and density measure fidelity, "
            "recall and coverage diversity; CAS only says samples carry their class.",
            "",
        ]
    lines += [
        "| model | steps | train time (s) | " + " | ".join(h for _, h, _ in _COLUMNS) + " |",
        "|---|---:|---:|" + "---:|" * len(_COLUMNS),
    ]
    for m in r["models"].values():
        vals = m.get("metrics", {})
        cells = [fmt.format(vals[key]) if key in vals else "n/a" for key, _, fmt in _COLUMNS]
        lines.append(
            f"| {m['model']} | {m['steps']} | {m['train_wall_time_s']} | " + " | ".join(cells) + " |"
        )
    warnings = [(m["model"], w) for m in r["models"].values() for w in m.get("warnings", [])]
    errors = [(m["model"], m["eval_error"]) for m in r["models"].values() if "eval_error" in m]
    if warnings or errors:
        lines += ["", "## Warnings", ""]
        lines += [f"- **{name}**: {w}" for name, w in warnings]
        lines += [f"- **{name}**: not evaluated: {e}" for name, e in errors]
    iw = next((m.get("iwae_info") for m in r["models"].values() if m.get("iwae_info")), None)
    if iw:
        lines += [
            "",
            f"IWAE: K={iw.get('k')} importance samples on {iw.get('n')} {iw.get('split')} images; "
            f"{iw.get('units', '')}.",
        ]
    lines += [
        "",
        "Samples (one column per class): " + ", ".join(f"`{m['samples_png']}`" for m in r["models"].values()),
        "",
        "Load a model: "
        + " / ".join(
            f"`aigc sample {m['saved_model']} -n 64 --seed 0 --grid out.png`" for m in r["models"].values()
        ),
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Handler of ``aigc demo``; returns the exit code."""
    if args.threads is not None:
        if args.threads < 1:
            print("error: --threads must be >= 1", file=sys.stderr)
            return 2
        import torch

        torch.set_num_threads(args.threads)
    from aigc_sdk.io import check_output_path

    try:
        check_output_path(args.out, "--out", kind="dir")
        run_demo(
            args.out,
            quick=args.quick,
            seed=args.seed,
            dataset=args.dataset,
            gan_steps=args.gan_steps,
            vae_steps=args.vae_steps,
            progress=args.progress,
        )
    except (ValueError, KeyError, ImportError) as exc:
        print(f"aigc demo: error: {exc}", file=sys.stderr)
        return 2
    return 0
