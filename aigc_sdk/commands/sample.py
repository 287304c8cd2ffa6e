"""``aigc sample DIR -n 64 --seed 0 --grid out.png [--class K]``: draw samples from a saved model.

Heavy imports happen inside the handler so ``aigc --help`` stays fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Add the ``sample`` sub-command."""
    p = subparsers.add_parser(
        "sample",
        help="draw samples from a saved model",
        description="Load a model saved by `aigc train`/`aigc demo` (a directory with config.json and "
        "model.safetensors, or a checkpoint directory) and write a PNG grid and/or a safetensors file.",
    )
    p.add_argument(
        "model_dir", metavar="DIR", help="saved model directory, or a run directory (its newest saved model)"
    )
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same samples")
    p.add_argument("--grid", help="write a PNG grid of the samples here")
    p.add_argument("--save", help="write the samples (and labels) to this .safetensors file")
    p.add_argument(
        "--class",
        dest="label",
        type=int,
        default=None,
        help="class label for every sample (conditional models; default: cycle through classes)",
    )
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--device", default="cpu", help="device to sample on (default cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``aigc sample``; returns the exit code."""
    if args.num < 1:
        print(f"error: -n must be >= 1, got {args.num}", file=sys.stderr)
        return 2
    if not args.grid and not args.save:
        print("error: give --grid PATH and/or --save PATH", file=sys.stderr)
        return 2
    import torch

    import aigc_sdk
    from aigc_sdk.io import check_output_path, find_saved_model, save_image_grid
    from aigc_sdk.specs import check_allocation, check_device

    try:
        check_device(args.device)
        for flag, path in (("--grid", args.grid), ("--save", args.save)):
            if path:
                check_output_path(path, flag, kind="file")
        # A run directory works too: its final model (or newest checkpoint) is used.
        model = aigc_sdk.load(find_saved_model(args.model_dir) or args.model_dir, device=args.device)
        shape = tuple(getattr(model, "data_shape", ()) or ())
        check_allocation(
            f"-n {args.num}",
            args.num * math.prod(shape) * 4,
            purpose=f"for the samples (shape {shape}, float32)",
            hint="use a smaller -n, or sample in batches (several runs with different --seed)",
        )
        num_classes = getattr(model, "num_classes", None)
        condition = None
        if args.label is not None:
            if not num_classes:
                raise ValueError("--class was given but this model is not class-conditional")
            if not 0 <= args.label < num_classes:
                raise ValueError(f"--class must be in [0, {num_classes}), got {args.label}")
            condition = torch.full((args.num,), args.label, dtype=torch.long)
        elif num_classes:
            condition = torch.arange(args.num) % num_classes
        gen = torch.Generator(device=args.device).manual_seed(args.seed)
        samples = model.sample(args.num, generator=gen, condition=condition)
        if args.grid:
            if samples.ndim != 4:
                raise ValueError(f"--grid needs image samples, this model gives shape {tuple(samples.shape)}")
            nrow = args.nrow or (num_classes if condition is not None and args.label is None else None)
            save_image_grid(samples, args.grid, nrow=nrow)
            print(f"wrote {args.num} samples to {args.grid}")
        if args.save:
            from safetensors.torch import save_file

            tensors = {"samples": samples.cpu().contiguous()}
            if condition is not None:
                tensors["labels"] = condition.cpu()
            save_file(tensors, args.save)
            print(f"wrote {args.num} samples to {args.save}")
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"aigc sample: error: {exc}", file=sys.stderr)
        return 2
    return 0
