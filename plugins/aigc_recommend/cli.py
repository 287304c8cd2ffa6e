"""``aigc recommend fit|eval``: train a Mult-VAE/DAE on an interactions file and evaluate it.

Heavy imports happen inside the handlers so ``aigc --help`` stays fast. Models are written
atomically as ``config.json`` + ``model.safetensors``; reports as JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _read(path: str, sep: str | None) -> Any:
    import pandas as pd

    df = pd.read_csv(path, sep=sep or ("\t" if path.endswith((".tsv", ".inter")) else ","))
    df.columns = [str(c).split(":")[0] for c in df.columns]  # RecBole headers look like "user_id:token"
    return df


def _fit(args: argparse.Namespace) -> int:
    from aigc_recommend.recommender import Recommender
    from aigc_sdk.io import check_output_path, write_json

    check_output_path(args.out, "--out", kind="dir")
    df = _read(args.data, args.sep)
    options: dict[str, Any] = {}  # unset options keep the Recommender's defaults
    if args.epochs is not None:
        options["epochs"] = args.epochs
    if args.linear_weight is not None:
        options["linear_weight"] = args.linear_weight
    rec = Recommender(args.kind, seed=args.seed, **options)
    rec.fit(
        df,
        user_col=args.user_column,
        item_col=args.item_column,
        rating_col=args.rating_column if args.min_rating is not None else None,
        min_rating=args.min_rating,
    )
    rec.save(args.out)
    write_json(Path(args.out) / "report.json", rec.report())
    r = rec.report()
    print(
        f"fitted {args.kind} on {r['n_users']} users x {r['n_items']} items "
        f"in {r['fit_seconds']:.1f} s -> {args.out}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np

    from aigc_recommend.interactions import frame_to_matrix
    from aigc_recommend.recommender import Recommender
    from aigc_sdk.io import check_output_path, write_json

    if args.report:
        check_output_path(args.report, "--report", kind="file")
    rec = Recommender.load(args.model)
    df = _read(args.data, args.sep)
    opts = {
        "user_col": args.user_column,
        "item_col": args.item_column,
        "rating_col": args.rating_column if args.min_rating is not None else None,
        "min_rating": args.min_rating,
    }
    df = df[df[args.item_column].isin(set(rec.items.ids))]  # type: ignore[union-attr]  # unseen items cannot be scored
    mat, _, _ = frame_to_matrix(df, items=rec.items, **opts)
    mat = mat[mat.sum(1) >= 5]
    if len(mat) == 0:
        raise ValueError("no user with >= 5 known items to evaluate")
    rng = np.random.default_rng(args.seed)
    fold, held = mat.copy(), np.zeros_like(mat)
    for r in range(len(mat)):  # hide 20% of each user's items, rank them given the other 80%
        cols = np.flatnonzero(mat[r])
        pick = rng.choice(cols, int(0.2 * len(cols)), replace=False)
        fold[r, pick], held[r, pick] = 0.0, 1.0
    metrics = rec.evaluate(fold, held, ks=(20, 50, 100))
    print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    if args.report:
        write_json(args.report, rec.report())
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sep", help="field separator (default: tab for .tsv/.inter, else comma)")
    p.add_argument("--user-column", default="user_id")
    p.add_argument("--item-column", default="item_id")
    p.add_argument("--rating-column", default="rating")
    p.add_argument("--min-rating", type=float, help="keep interactions with rating >= this (e.g. 4)")
    p.add_argument("--seed", type=int, default=0)


def add_parser(subparsers: Any) -> None:
    """Add the ``recommend`` command with ``fit`` and ``eval`` sub-commands."""
    p = subparsers.add_parser("recommend", help="Mult-VAE / Mult-DAE recommendation (fit, eval)")
    sub = p.add_subparsers(dest="recommend_command", metavar="ACTION", required=True)
    f = sub.add_parser("fit", help="train on a user,item[,rating] file")
    f.add_argument("data", help="CSV / TSV / RecBole .inter file of interactions")
    f.add_argument("--out", required=True, help="directory for config.json + model.safetensors + report.json")
    f.add_argument("--kind", choices=["multvae", "multdae"], default="multvae")
    f.add_argument("--epochs", type=int, help="training epochs (default: the Recommender's default)")
    f.add_argument(
        "--linear-weight",
        type=float,
        help="share of the linear item autoencoder in the ranking, in [0, 1) (default: the Recommender's; "
        "0 = the networks alone)",
    )
    _common(f)
    f.set_defaults(func=_fit)
    e = sub.add_parser("eval", help="Recall@K / NDCG@K on users of a file (80%% fold-in, 20%% held out)")
    e.add_argument("model", help="directory written by `aigc recommend fit`")
    e.add_argument("data", help="interactions of the users to evaluate (ideally not the training users)")
    e.add_argument("--report", help="write the JSON report here")
    _common(e)
    e.set_defaults(func=_eval)
