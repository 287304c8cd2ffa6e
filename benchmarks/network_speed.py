"""Training steps per second of the first-party networks at several image sizes.

    python benchmarks/network_speed.py --threads 2 --batch 64 --steps 5 --out speed.json

For each model family (cGAN, cVAE, AE), architecture (conv, resnet) and data shape, builds
the model with its defaults, runs one warm-up step, then times ``--steps`` training steps on
random data. Variants are interleaved round by round so a busy machine slows all of them
alike; the median step time is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import aigc_sdk

SHAPES = ([1, 28, 28], [3, 32, 32], [3, 64, 64])
FAMILIES = ("cgan", "cvae", "ae")
ARCHS = ("conv", "resnet")


def main() -> None:
    """Measure and print a Markdown table (and optionally write JSON)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    runs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for family in FAMILIES:
        for arch in ARCHS:
            for shape in SHAPES:
                extra = {} if family == "ae" else {"num_classes": 10}
                model = aigc_sdk.create_model(family, data_shape=shape, arch=arch, **extra)
                opt = model.configure_optimizers()
                x = torch.rand(args.batch, *shape)
                y = torch.randint(0, 10, (args.batch,))
                model.training_step((x, y), opt, 0)  # warm-up
                params = sum(p.numel() for p in model.parameters())
                runs[(family, arch, "x".join(map(str, shape)))] = {
                    "model": model,
                    "opt": opt,
                    "batch": (x, y),
                    "times": [],
                    "params": params,
                }
    for step in range(1, args.steps + 1):
        for run in runs.values():
            t0 = time.perf_counter()
            run["model"].training_step(run["batch"], run["opt"], step)
            run["times"].append(time.perf_counter() - t0)
    rows = []
    print(f"threads={args.threads} batch={args.batch} steps={args.steps} cpu={_cpu()}")
    print("| model | arch | data | params | median s/step | steps/s |")
    print("|---|---|---|---|---|---|")
    for (family, arch, shape), run in runs.items():
        med = statistics.median(run["times"])
        rows.append(
            {"model": family, "arch": arch, "data": shape, "params": run["params"], "s_per_step": med}
        )
        print(f"| {family} | {arch} | {shape} | {run['params'] / 1e6:.2f}M | {med:.3f} | {1 / med:.2f} |")
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"threads": args.threads, "batch": args.batch, "rows": rows}, f, indent=2)
        os.replace(tmp, args.out)


def _cpu() -> str:
    path = Path("/proc/cpuinfo")
    flags = path.read_text() if path.exists() else ""
    return "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "unknown")


if __name__ == "__main__":
    main()
