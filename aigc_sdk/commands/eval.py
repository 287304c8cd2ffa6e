"""``aigc eval``: score a saved model (or a folder of PNG images) against a data set."""

from __future__ import annotations

import argparse
import sys

from aigc_sdk.commands.data_options import add_data_options, read_data_options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` sub-command."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a saved model or a folder of PNG images (FID, KID, P/R, D/C, CAS, IWAE, ...)",
        description="Generate --n samples from RUN_DIR_OR_MODEL (or read its PNG images) and score them "
        "against the data set with the chosen metrics (iwae: the NLL of up to --n test samples under a "
        "likelihood model such as a VAE). Values are comparable only within one extractor; the report "
        "names it (with its weight hash) and the sample counts next to each value.",
    )
    p.add_argument(
        "source", metavar="RUN_DIR_OR_MODEL", help="saved model / run directory, or a folder of PNGs"
    )
    p.add_argument("--dataset", required=True, help="registered data set name, e.g. mnist5k")
    add_data_options(p)
    p.add_argument(
        "--metrics",
        default="fid,kid,prc,dc,cas",
        help="comma-separated evaluator names (fid, kid, prc, dc, prdc, swd, is, cas, iwae)",
    )
    p.add_argument("--n", type=int, default=10000, help="number of generated samples (default 10000)")
    p.add_argument(
        "--extractor", default="classifier", help="feature extractor (classifier, random-conv, raw)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for sampling and seeded metrics")
    p.add_argument("--batch-size", type=int, default=1000, help="sampling / feature batch size")
    p.add_argument(
        "--iwae-k", type=int, default=100, help="importance samples per data point for iwae (default 100)"
    )
    p.add_argument("--json", metavar="OUT.json", help="write the report as JSON")
    p.add_argument("--markdown", metavar="OUT.md", help="write the report as a Markdown table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the Markdown table, write the requested files. Exit 2 on bad input."""
    from aigc_sdk.errors import AigcError, CorruptFileError, ModelMismatchError
    from aigc_sdk.evaluation import evaluate, report_to_markdown, write_report
    from aigc_sdk.io import check_output_path

    try:
        for flag, path in (("--json", args.json), ("--markdown", args.markdown)):
            if path:
                check_output_path(path, flag, kind="file")
        report = evaluate(
            args.source,
            dataset=args.dataset,
            metrics=[m for m in args.metrics.split(",") if m.strip()],
            n=args.n,
            extractor=args.extractor,
            seed=args.seed,
            batch_size=args.batch_size,
            iwae_k=args.iwae_k,
            dataset_options=read_data_options(args),
        )
    except (CorruptFileError, ModelMismatchError):
        raise  # runtime failures: `aigc` reports them with exit code 1
    except (ValueError, AigcError, ImportError) as exc:
        print(f"aigc eval: error: {exc}", file=sys.stderr)
        return 2
    write_report(report, json_path=args.json, markdown_path=args.markdown)
    print(report_to_markdown(report), end="")
    return 0
