"""``aigc synth fit|sample|report|privacy``: argument parsing here, heavy imports inside handlers."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Attach the ``synth`` command and its sub-commands (fit, sample, report, privacy) to ``aigc``."""
    p = subparsers.add_parser("synth", help="fit / sample / evaluate a synthetic-table model, privacy report")
    sub = p.add_subparsers(dest="synth_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    f = sub.add_parser("fit", help="fit a synthesizer on a CSV file and save it")
    f.add_argument("data", help="CSV file of training rows")
    f.add_argument("--out", required=True, help="directory to save the model to")
    f.add_argument("--kind", default="tvae", choices=["tvae", "ctgan"])
    f.add_argument("--target", help="categorical target column (the tvae model is conditioned on it)")
    f.add_argument("--discrete", help="comma-separated categorical columns (default: inferred from types)")
    f.add_argument("--epochs", type=int)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--threads", type=int, help="torch intra-op threads")
    f.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra model option; VALUE is read as JSON when it parses (2, [64, 64], null), else kept as "
        "a string (latent_prior=gmm)",
    )
    f.add_argument("--id-columns", help="comma-separated identifier columns (default: detected)")
    f.add_argument(
        "--id-policy",
        choices=["generate", "drop", "refuse"],
        help="what to do with identifier columns (default: generate fresh values)",
    )
    f.add_argument(
        "--dp-epsilon",
        type=float,
        help="train with differential privacy at this epsilon (tvae; needs --schema)",
    )
    f.add_argument(
        "--schema",
        help="JSON file of public column facts for --dp-epsilon: "
        '{"col": {"min": 0, "max": 100}, "cat": {"categories": ["a", "b"]}}',
    )
    f.set_defaults(func=_fit)

    s = sub.add_parser("sample", help="sample rows from a saved synthesizer into a CSV file")
    s.add_argument("model", help="directory written by 'aigc synth fit'")
    s.add_argument("-n", "--rows", type=int, required=True)
    s.add_argument("--out", required=True, help="CSV file to write")
    s.add_argument("--condition", action="append", default=[], metavar="COLUMN=VALUE")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_sample)

    r = sub.add_parser("report", help="score fresh samples against held-out real rows (JSON + Markdown)")
    r.add_argument("model", help="directory written by 'aigc synth fit'")
    r.add_argument("--real", required=True, help="CSV of held-out real rows")
    r.add_argument("--train", help="CSV of the training rows (enables privacy and augmentation figures)")
    r.add_argument("-n", "--rows", type=int, help="rows to sample (default: as many as --real)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True, help="JSON report path (a .md file is written next to it)")
    r.set_defaults(func=_report)

    q = sub.add_parser(
        "privacy",
        help="privacy report of a synthetic CSV against the training CSV (DCR, copies, rare categories)",
    )
    q.add_argument("train", help="CSV of the training rows")
    q.add_argument("synthetic", help="CSV of synthetic rows")
    q.add_argument("--holdout", help="CSV of real rows not trained on (DCR baseline; default: leave-one-out)")
    q.add_argument("--discrete", help="comma-separated categorical columns (default: inferred from types)")
    q.add_argument("--id-columns", help="comma-separated identifier columns to ignore (default: detected)")
    q.add_argument("--max-rows", type=int, default=3000, help="rows of each table used for distances")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="JSON file to write the report to")
    q.set_defaults(func=_privacy)


def _read_csv(path: str) -> Any:
    import pandas as pd

    return pd.read_csv(path)


def _fit(args: argparse.Namespace) -> int:
    from aigc_sdk.io import check_output_path
    from aigc_synth.synthesizer import Synthesizer

    check_output_path(args.out, "--out", kind="dir")  # before the fit, not after minutes of it
    options = {key: value for key, value in map(parse_option, args.option)}
    if args.id_columns is not None:
        options["id_columns"] = _names(args.id_columns)
    if args.id_policy is not None:
        options["id_policy"] = args.id_policy
    if args.epochs is not None:
        options["epochs"] = args.epochs
    if args.dp_epsilon is not None:
        options["dp_epsilon"] = args.dp_epsilon
    schema = None
    if args.schema:
        with open(args.schema, encoding="utf-8") as fh:
            schema = json.load(fh)
    discrete = [c.strip() for c in args.discrete.split(",")] if args.discrete else None
    synth = Synthesizer(args.kind, seed=args.seed, num_threads=args.threads, **options)
    synth.fit(_read_csv(args.data), discrete_columns=discrete, target=args.target, schema=schema)
    synth.save(args.out)
    info = synth.report()["fit"]
    print(f"fitted {args.kind} on {info['rows']} rows in {info['fit_seconds']} s -> {args.out}")
    if "privacy" in info:
        priv = info["privacy"]
        print(f"differential privacy: epsilon {priv['epsilon_total']:.3f}, delta {priv['delta']:.3g}")
    if info.get("privacy_report"):
        from aigc_synth.privacy_report import summary_line

        print(summary_line(info["privacy_report"]))
    return 0


def parse_option(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from ``--option``: the value as JSON when it parses, else the bare string
    (so ``latent_prior=gmm`` and ``latent_prior='"gmm"'`` mean the same)."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--option expects KEY=VALUE, got {item!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _sample(args: argparse.Namespace) -> int:
    from aigc_sdk.io import atomic_write, check_output_path
    from aigc_synth.synthesizer import Synthesizer

    check_output_path(args.out, "--out", kind="file")
    synth = Synthesizer.load(args.model)
    synth.check_rows(args.rows, "-n")
    conditions = {}
    for item in args.condition:
        col, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--condition expects COLUMN=VALUE, got {item!r}")
        conditions[col] = _category_from_text(synth, col, value)
    df = synth.sample(args.rows, conditions=conditions, seed=args.seed)
    atomic_write(args.out, lambda tmp: df.to_csv(tmp, index=False))
    print(f"wrote {len(df)} rows to {args.out}")
    return 0


def _privacy(args: argparse.Namespace) -> int:
    from aigc_sdk.io import check_output_path
    from aigc_synth._io import write_json
    from aigc_synth.evaluation import _clean
    from aigc_synth.privacy_report import privacy_report, summary_line

    if args.out:
        check_output_path(args.out, "--out", kind="file")
    rep = privacy_report(
        _read_csv(args.train),
        _read_csv(args.synthetic),
        _read_csv(args.holdout) if args.holdout else None,
        discrete_columns=_names(args.discrete),
        id_columns=_names(args.id_columns),
        max_rows=args.max_rows,
        seed=args.seed,
    )
    print(summary_line(rep))
    if args.out:
        write_json(args.out, _clean(rep))
        print(f"wrote {args.out}")
    return 0


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def _category_from_text(synth: Any, column: str, text: str) -> Any:
    """Map a command-line string to the stored category whose text form matches."""
    spec = synth.transformer.spec(column)
    for cat in spec.get("categories", []):
        if str(cat) == text:
            return cat
    return text  # let Synthesizer.sample raise its clear error


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aigc_sdk.io import check_output_path
    from aigc_synth._io import write_json, write_text
    from aigc_synth.evaluation import to_markdown
    from aigc_synth.synthesizer import Synthesizer

    check_output_path(args.out, "--out", kind="file")
    synth = Synthesizer.load(args.model)
    if args.rows is not None:
        synth.check_rows(args.rows, "-n")
    train = _read_csv(args.train) if args.train else None
    synth.evaluate(_read_csv(args.real), train=train, n=args.rows, seed=args.seed)
    report = synth.report()
    write_json(args.out, report)
    md = Path(args.out).with_suffix(".md")
    write_text(md, to_markdown(report))
    print(f"wrote {args.out} and {md}")
    return 0
