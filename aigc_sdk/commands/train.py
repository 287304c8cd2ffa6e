"""``aigc train MODEL --dataset NAME --out DIR``: train a registered model on a registered data set.

``--nproc N`` re-launches this command under torchrun with N data-parallel processes (gloo
on CPU, nccl on CUDA); ``torchrun --nproc_per_node N -m aigc_sdk.commands.train ...`` does
the same by hand. Heavy imports happen inside the handler so ``aigc --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from aigc_sdk.commands.data_options import add_data_options, read_data_options

_TRAINER_KEYS = {
    "batch_size",
    "deterministic",
    "device",
    "precision",
    "grad_clip",
    "checkpoint_every",
    "keep_last",
    "sample_every",
    "sample_count",
    "log_every",
    "divergence_threshold",
    "accumulate",
    "lr_schedule",
    "warmup_steps",
    "min_lr_ratio",
    "num_workers",
    "pin_memory",
    "prefetch_factor",
    "compile",
    "channels_last",
    "tensorboard",
    "data_parallel",
    "sync_batchnorm",
}

#: Quality metrics where higher is better (--early-stop picks mode="max" for them).
_HIGHER_IS_BETTER = {"recall", "precision", "density", "coverage", "cas", "is"}


def add_parser(subparsers: Any) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser(
        "train",
        help="train a model on a data set",
        description="Train a registered model (see `aigc plugins`) on a registered data set. "
        "Writes checkpoints, metrics.jsonl/csv, sample grids and the final model (DIR/model) to --out.",
    )
    p.add_argument("model", help="registered model name, e.g. cgan, cvae, vae, ae")
    p.add_argument("--dataset", required=True, help="registered data set name, e.g. mnist5k, digits")
    add_data_options(p)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--steps", type=int, default=1000, help="total optimisation steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=None, help="global batch size (default 64)")
    p.add_argument(
        "--config", help="JSON file of model keyword arguments; a 'trainer' object holds Trainer options"
    )
    for part in ("generator", "discriminator", "encoder", "decoder"):
        p.add_argument(
            f"--{part}",
            default=None,
            metavar="NAME|JSON",
            help=f"a registered {part} network (see `aigc plugins`), or a JSON object "
            f'{{"name": ..., ...options}}; overrides the config',
        )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--precision",
        choices=["fp32", "bf16", "fp16"],
        default=None,
        help="fp32 (default), bf16 autocast, or fp16 autocast with loss scaling",
    )
    p.add_argument(
        "--accumulate",
        type=int,
        default=None,
        help="gradient accumulation: micro-batches per step (default 1)",
    )
    p.add_argument(
        "--lr-schedule", choices=["constant", "linear", "cosine"], default=None, help="learning-rate decay"
    )
    p.add_argument("--warmup-steps", type=int, default=None, help="linear learning-rate warm-up steps")
    p.add_argument(
        "--min-lr-ratio",
        type=float,
        default=None,
        help="final learning rate as a fraction of the initial one",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="DataLoader worker processes (default 0: main process)"
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model's networks")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format for images")
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to DIR/tensorboard (pip install 'aigc-sdk[tensorboard]')",
    )
    p.add_argument(
        "--log-every", type=int, default=None, help="write a metrics row every N steps (default 1)"
    )
    p.add_argument(
        "--early-stop",
        default=None,
        metavar="METRIC",
        help="stop when METRIC (a step metric such as loss, or a quality metric with --eval-every) "
        "stops improving for --patience values",
    )
    p.add_argument(
        "--patience", type=int, default=5, help="values without improvement before stopping (default 5)"
    )
    p.add_argument(
        "--deterministic", action="store_true", help="deterministic kernels (bitwise reproducible on CPU)"
    )
    p.add_argument("--grad-clip", type=float, default=None, help="clip gradient norms to this value")
    p.add_argument(
        "--checkpoint-every", type=int, default=None, help="checkpoint every N steps (always at the end)"
    )
    p.add_argument("--keep-last", type=int, default=None, help="keep the newest K checkpoints (default 3)")
    p.add_argument("--sample-every", type=int, default=None, help="write a sample grid every N steps")
    p.add_argument("--resume", action="store_true", help="resume from the newest checkpoint in --out")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the run already in --out (checkpoints, metrics, samples, model) and start over",
    )
    q = p.add_argument_group(
        "quality monitor",
        "score samples every N steps against held-out real data (precision, recall, density, coverage, "
        "FID with the data-trained classifier's features); needs a labelled data set",
    )
    q.add_argument("--eval-every", type=int, default=None, help="measure sample quality every N steps")
    q.add_argument("--eval-n", type=int, default=1000, help="samples per measurement (default 1000)")
    q.add_argument(
        "--best-by",
        default="recall",
        help="keep the best model by this metric in DIR/best (recall, coverage, precision, density, fid; "
        "'none' keeps none; default recall)",
    )
    q.add_argument(
        "--min-recall", type=float, default=None, help="warn when recall falls below this (mode collapse)"
    )
    q.add_argument(
        "--stop-on-collapse", action="store_true", help="stop training instead of warning (with --min-recall)"
    )
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes (launched with torchrun)")
    p.add_argument(
        "--data-parallel",
        choices=["ddp", "allreduce"],
        default=None,
        help="ddp (default): DistributedDataParallel per network; allreduce: one all-reduce per step",
    )
    p.add_argument(
        "--sync-batchnorm", action="store_true", help="BatchNorm statistics over all ranks (CUDA only)"
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force the progress bar on/off (default: on when stderr is a terminal)",
    )
    p.set_defaults(func=run)
    _OPTIONS.clear()
    _OPTIONS.update(
        {a.dest: (a.option_strings[0], a) for a in p._actions if a.option_strings and a.dest != "help"}
    )


#: dest -> (first flag, argparse action) of every ``aigc train`` option (filled by add_parser).
_OPTIONS: dict[str, tuple[str, argparse.Action]] = {}


def _argv(args: argparse.Namespace) -> list[str]:
    """Rebuild this command's arguments (minus --nproc) for torchrun, from the parser's own
    record of every option, so a new option cannot be forgotten here."""
    out = [args.model]
    for dest, (flag, action) in _OPTIONS.items():
        value = getattr(args, dest, None)
        if dest == "nproc" or value is None or value == action.default:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            out.append(flag if value else "--no-" + flag[2:])
        elif isinstance(action, argparse._StoreTrueAction):
            out.append(flag)
        else:
            out += [flag, str(value)]
    return out


def _launch(args: argparse.Namespace) -> int:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.nproc}",
        "-m",
        "aigc_sdk.commands.train",
        *_argv(args),
    ]
    return subprocess.call(cmd)


def _nproc_problem(nproc: int, device: str | None) -> str | None:
    """Why ``--nproc`` cannot work here (more processes than GPUs), or None; more processes than
    CPU cores only warns (they run, sharing the cores)."""
    wants_cuda = (device or "auto").startswith("cuda")
    if wants_cuda or device in (None, "auto"):
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if wants_cuda and gpus == 0:
            return f"--nproc {nproc} --device {device}: no CUDA GPU is available"
        if gpus and nproc > gpus:
            return f"--nproc {nproc} is more than the {gpus} GPU(s) here; use --nproc {gpus} or --device cpu"
        if gpus:
            return None
    cores = os.cpu_count() or 1
    if nproc > cores:
        print(
            f"aigc train: warning: --nproc {nproc} is more than the {cores} CPU core(s); the processes "
            "will share them (each with OMP_NUM_THREADS=1 from torchrun)",
            file=sys.stderr,
        )
    return None


def run(args: argparse.Namespace) -> int:
    """Handler of ``aigc train``; returns the exit code."""
    if args.nproc < 1:
        print("error: --nproc must be >= 1", file=sys.stderr)
        return 2
    if args.nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        problem = _nproc_problem(args.nproc, args.device)
        if problem is not None:
            print(f"aigc train: error: {problem}", file=sys.stderr)
            return 2
        return _launch(args)

    import aigc_sdk
    from aigc_sdk.io import save_model
    from aigc_sdk.training import (
        EarlyStopping,
        QualityCollapseError,
        QualityMonitor,
        Trainer,
        TrainingDivergedError,
    )
    from aigc_sdk.training.distributed import cleanup

    model_cfg: dict[str, Any] = {}
    trainer_cfg: dict[str, Any] = {}
    from aigc_sdk.errors import UsageError
    from aigc_sdk.io import check_output_path
    from aigc_sdk.specs import check_device, check_model_config

    try:
        check_device(args.device)
        check_output_path(args.out, "--out", kind="dir")
    except UsageError as exc:
        print(f"aigc train: error: {exc}", file=sys.stderr)
        return 2
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as fh:
                loaded = json.load(fh)
            check_model_config(loaded, f"--config {args.config}")
        except UsageError as exc:
            print(f"aigc train: error: {exc}", file=sys.stderr)
            return 2
        except (ValueError, RecursionError, OverflowError) as exc:  # JSONDecodeError, bad UTF-8
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            print(f"aigc train: error: --config {args.config}: not valid JSON: {reason}", file=sys.stderr)
            return 2
        if not isinstance(loaded, dict):
            print(f"error: --config {args.config} must hold a JSON object", file=sys.stderr)
            return 2
        trainer_cfg = dict(loaded.pop("trainer", {}) or {})
        model_cfg = loaded
        unknown = set(trainer_cfg) - _TRAINER_KEYS
        if unknown:
            print(f"error: unknown trainer options in --config: {sorted(unknown)}", file=sys.stderr)
            return 2
    for part in ("generator", "discriminator", "encoder", "decoder"):
        spec = getattr(args, part, None)
        if spec is None:
            continue
        if spec.lstrip().startswith("{"):
            try:
                spec = json.loads(spec)
            except ValueError as exc:
                print(f"aigc train: error: --{part}: not a valid JSON object: {exc}", file=sys.stderr)
                return 2
        model_cfg[part] = spec
    for key, value in (
        ("batch_size", args.batch_size),
        ("device", args.device),
        ("precision", args.precision),
        ("grad_clip", args.grad_clip),
        ("checkpoint_every", args.checkpoint_every),
        ("keep_last", args.keep_last),
        ("sample_every", args.sample_every),
        ("accumulate", args.accumulate),
        ("lr_schedule", args.lr_schedule),
        ("warmup_steps", args.warmup_steps),
        ("min_lr_ratio", args.min_lr_ratio),
        ("num_workers", args.workers),
        ("log_every", args.log_every),
        ("data_parallel", args.data_parallel),
    ):
        if value is not None:
            trainer_cfg[key] = value
    for key, flag in (
        ("deterministic", args.deterministic),
        ("compile", args.compile),
        ("channels_last", args.channels_last),
        ("tensorboard", args.tensorboard),
        ("sync_batchnorm", args.sync_batchnorm),
    ):
        if flag:
            trainer_cfg[key] = True
    try:
        import torch

        torch.manual_seed(args.seed)  # model initialisation
        data_options = read_data_options(args)
        provider = aigc_sdk.load_dataset(args.dataset, **data_options)
        if data_options:
            # The model cannot rebuild a data set that needs options from its name alone, so it
            # gets the shape (and the classes, when it is a conditional model) directly.
            model_cfg.setdefault("data_shape", list(provider.sample_shape))
            from aigc_sdk.registry import default_registry

            reg = default_registry().get("model", args.model)
            if reg.metadata.get("conditional") and provider.num_classes:
                model_cfg.setdefault("num_classes", provider.num_classes)
        else:
            model_cfg.setdefault("dataset", args.dataset)
        model = aigc_sdk.create_model(args.model, **model_cfg)
        callbacks: list[Any] = []
        if args.eval_every is not None:
            callbacks.append(
                QualityMonitor(
                    args.dataset,
                    dataset_options=data_options,
                    every=args.eval_every,
                    n=args.eval_n,
                    best_by=None if args.best_by == "none" else args.best_by,
                    min_recall=args.min_recall,
                    stop_below=args.stop_on_collapse,
                    seed=args.seed,
                )
            )
        elif args.min_recall is not None or args.stop_on_collapse:
            raise ValueError("--min-recall and --stop-on-collapse need --eval-every N")
        if args.early_stop is not None:
            mode = "max" if args.early_stop.lower() in _HIGHER_IS_BETTER else "min"
            callbacks.append(EarlyStopping(args.early_stop, mode=mode, patience=args.patience))
        trainer = Trainer(
            model,
            provider,
            steps=args.steps,
            out_dir=args.out,
            seed=args.seed,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=args.progress,
            callbacks=callbacks,
            **trainer_cfg,
        )
        metrics = trainer.fit()
    except (TrainingDivergedError, QualityCollapseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, KeyError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        cleanup()
    if trainer.dist.is_main:
        path = save_model(model, os.path.join(args.out, "model"), name=args.model)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        print(f"trained {args.model} on {args.dataset}: {shown}\nsaved model to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m aigc_sdk.commands.train`` (what torchrun runs)."""
    parser = argparse.ArgumentParser(prog="aigc")
    sub = parser.add_subparsers()
    add_parser(sub)
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
