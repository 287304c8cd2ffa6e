"""``aigc augment generate|variations``: argument parsing here, heavy imports inside handlers.

Every output file is written atomically (temporary file + rename), so an interrupted run
never leaves a truncated PNG, report or tensor file behind.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aigc_sdk.commands.data_options import add_data_options, read_data_options


def add_parser(subparsers: Any) -> None:
    """Attach the ``augment`` command and its sub-commands to the ``aigc`` parser."""
    p = subparsers.add_parser("augment", help="class-conditional image augmentation and latent variations")
    sub = p.add_subparsers(dest="augment_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    g = sub.add_parser(
        "generate",
        help="fit a class-conditional generator on labelled images and write synthetic ones",
        description="Writes OUT/synthetic.safetensors (x, y), OUT/grid.png (one row per class), "
        "OUT/report.json and OUT/report.md; with --save-model also OUT/model/.",
    )
    g.add_argument(
        "source_data",
        metavar="DATA",
        help="registered data set name (its train split) or a .safetensors file with x and y",
    )
    add_data_options(g)
    g.add_argument("--per-class", type=int, required=True, help="synthetic images per class")
    g.add_argument("--out", required=True, help="output directory")
    g.add_argument(
        "--labelled-per-class",
        type=int,
        help="keep labels on only this many images per class; the rest are used unlabelled",
    )
    g.add_argument(
        "--unlabelled", help="extra unlabelled images: data set name or .safetensors file (labels ignored)"
    )
    g.add_argument("--test", help="score the lift on this labelled set ('split' = the data set's test split)")
    g.add_argument("--model", default="cvae", help="class-conditional model (default cvae)")
    g.add_argument("--source", default="variations", choices=["variations", "prior"])
    g.add_argument("--strength", type=float, default=1.0, help="latent noise of variations (prior units)")
    g.add_argument("--steps", type=int, default=3000, help="generator training steps")
    g.add_argument("--teacher-steps", type=int, default=600, help="pseudo-labelling CNN training steps")
    g.add_argument("--eval-steps", type=int, default=600, help="training steps of each evaluation CNN")
    g.add_argument("--combine", action="store_true", help="write real + synthetic instead of synthetic only")
    g.add_argument("--save-model", action="store_true", help="also save the generator to OUT/model")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, help="torch intra-op threads")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_generate)

    v = sub.add_parser("variations", help="PNG grid of latent-space variations of one image (VAE models)")
    v.add_argument("model", help="saved VAE directory (e.g. from 'aigc augment generate --save-model')")
    src = v.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="PNG/JPEG image of the model's size")
    src.add_argument("--dataset", help="take the image from this data set's test split (with --index)")
    v.add_argument("--index", type=int, default=0, help="index into --dataset's test split")
    add_data_options(v)
    v.add_argument("--class", dest="label", type=int, help="the image's class (conditional VAEs)")
    v.add_argument("-n", "--num", type=int, default=16, help="number of variations")
    v.add_argument("--strength", type=float, default=0.5)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", required=True, help="PNG grid to write (original first)")
    v.set_defaults(func=_variations)


def _load_labelled(spec: str, split: str = "train", options: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """``(x, y)`` from a registered data set's split (with its ``--data`` options) or a
    .safetensors file (keys x/y or samples/labels)."""
    if spec.endswith(".safetensors"):
        from safetensors.torch import load_file

        t = load_file(spec)
        x = t.get("x", t.get("samples"))
        if x is None:
            raise ValueError(f"{spec} holds no 'x' (or 'samples') tensor; it has {sorted(t)}")
        return x, t.get("y", t.get("labels"))
    import aigc_sdk
    from aigc_sdk.interfaces import split_tensors

    tensors = split_tensors(aigc_sdk.load_dataset(spec, **(options or {})).load(split))
    return tensors[0], (tensors[1] if len(tensors) > 1 else None)


def _split_labels(x: Any, y: Any, per_class: int, seed: int) -> tuple[Any, Any, Any]:
    """Keep ``per_class`` labelled images per class (seeded); return them and the other images."""
    import torch

    if y is None:
        raise ValueError("--labelled-per-class needs a labelled data set")
    gen = torch.Generator().manual_seed(seed)
    keep = torch.zeros(len(y), dtype=torch.bool)
    for c in y.unique().tolist():
        idx = torch.nonzero(y == c).flatten()
        keep[idx[torch.randperm(idx.numel(), generator=gen)[:per_class]]] = True
    return x[keep], y[keep], x[~keep]


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from safetensors.torch import save

    from aigc_augment.augmenter import Augmenter
    from aigc_augment.evaluation import augmentation_lift
    from aigc_augment.report import to_markdown
    from aigc_sdk.io import (
        atomic_write_bytes,
        atomic_write_text,
        check_output_path,
        save_image_grid,
        write_json,
    )

    check_output_path(args.out, "--out", kind="dir")  # before the generator is trained

    if args.per_class <= 0:
        raise ValueError(f"--per-class must be a positive int, got {args.per_class}")
    options = read_data_options(args)
    x, y = _load_labelled(args.source_data, options=options)
    if y is None:
        raise ValueError(f"{args.source_data} has no labels: class-conditional augmentation needs (x, y)")
    unlabelled = None
    if args.labelled_per_class is not None:
        if args.labelled_per_class <= 0:
            raise ValueError(f"--labelled-per-class must be a positive int, got {args.labelled_per_class}")
        x, y, unlabelled = _split_labels(x, y, args.labelled_per_class, args.seed)
    if args.unlabelled:
        import torch

        extra, _ = _load_labelled(args.unlabelled)  # labels dropped on purpose: no leakage
        unlabelled = extra if unlabelled is None else torch.cat([unlabelled, extra])
    aug = Augmenter(
        model=args.model,
        steps=args.steps,
        source=args.source,
        strength=args.strength,
        teacher_steps=args.teacher_steps,
        seed=args.seed,
        num_threads=args.threads,
        progress=False if args.quiet else None,
    )
    aug.fit((x, y), unlabelled=unlabelled if unlabelled is not None and len(unlabelled) else None)
    synthetic = aug.augment((x, y), args.per_class, combine=args.combine)
    out = Path(args.out)
    xs, ys = synthetic.tensors
    atomic_write_bytes(out / "synthetic.safetensors", save({"x": xs.contiguous(), "y": ys.contiguous()}))
    # One row per class, the first few synthetic images of each (they are stored class-major).
    k, show = int(ys.max()) + 1, min(8, args.per_class)
    fresh_x, fresh_y = aug.sample(args.per_class).tensors if args.combine else (xs, ys)
    rows = [fresh_x[fresh_y == c][:show] for c in range(k)]
    import torch

    save_image_grid(torch.cat(rows), out / "grid.png", nrow=show)
    report = aug.report()
    if args.test:
        xt, yt = (
            _load_labelled(args.source_data, "test", options)
            if args.test == "split"
            else _load_labelled(args.test)
        )
        if yt is None:
            raise ValueError("--test needs labelled images")
        syn_only = aug.sample(args.per_class).tensors
        report["evaluation"] = augmentation_lift(
            (x, y), syn_only, (xt.float(), yt.long()), num_classes=k, steps=args.eval_steps, seed=args.seed
        )
    files = {
        "synthetic": str(out / "synthetic.safetensors"),
        "grid": str(out / "grid.png"),
        "report": str(out / "report.json"),
        "markdown": str(out / "report.md"),
    }
    if args.save_model:
        aug.save_model(str(out / "model"))
        files["model"] = str(out / "model")
    report["outputs"] = files
    write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", to_markdown(report))
    print(f"wrote {len(ys)} images ({args.per_class} per class) and a report to {out}", file=sys.stderr)
    return 0


def _read_image(path: str, shape: tuple[int, ...]) -> Any:
    """A PNG/JPEG as a ``(C, H, W)`` tensor in [0, 1]; it must already have the model's size."""
    import numpy as np
    import torch
    from PIL import Image

    img = Image.open(path)
    img = img.convert("L" if shape[0] == 1 else "RGB")
    arr = np.asarray(img, dtype=np.float32) / 255.0
    t = torch.from_numpy(arr)
    t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"image {path} has shape {tuple(t.shape)}, the model expects {tuple(shape)}")
    return t


def _variations(args: argparse.Namespace) -> int:
    import torch

    import aigc_sdk
    from aigc_augment.variations import variations
    from aigc_sdk.io import check_output_path, save_image_grid

    if args.num <= 0:
        raise ValueError(f"-n must be a positive int, got {args.num}")
    check_output_path(args.out, "--out", kind="file")
    model = aigc_sdk.load(args.model)
    shape = tuple(getattr(model, "data_shape", ()))
    label = args.label
    if args.image:
        image = _read_image(args.image, shape)
    else:
        x, y = _load_labelled(args.dataset, "test", read_data_options(args))
        if not 0 <= args.index < len(x):
            raise ValueError(f"--index must be in [0, {len(x)}), got {args.index}")
        image = x[args.index]
        if label is None and y is not None:
            label = int(y[args.index])
    gen = torch.Generator().manual_seed(args.seed)
    out = variations(model, image, args.num, args.strength, generator=gen, condition=label)
    save_image_grid(torch.cat([image[None].float(), out]), args.out, nrow=min(9, args.num + 1))
    print(f"wrote the image and {args.num} variations to {args.out}", file=sys.stderr)
    return 0
