"""``aigc bench ops``: one table timing the compiled ops against eager, torch.compile and ``x * 2.0``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` sub-command (``aigc bench ops``)."""
    p = subparsers.add_parser("bench", help="micro-benchmarks (ops: the fused kernels)")
    sub = p.add_subparsers(dest="bench_target", metavar="TARGET")
    ops_p = sub.add_parser("ops", help="fused ops vs eager vs torch.compile vs x * 2.0, one table")
    ops_p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ops_p.add_argument("--quick", action="store_true", help="fewer sizes and repetitions (smoke run)")
    ops_p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    ops_p.add_argument(
        "--reps", type=int, default=None, help="interleaved rounds per case (default 15, quick 5)"
    )
    ops_p.add_argument("--device", default="cpu", help="device to run on (default cpu)")
    ops_p.set_defaults(func=run_ops)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def run_ops(args: argparse.Namespace) -> int:
    """Build the cases, time them (variants interleaved, medians) and print the table."""
    import torch

    import aigc_sdk.ops as ops
    from aigc_sdk.ops import benchmark
    from aigc_sdk.specs import check_device

    check_device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    reps = args.reps or (5 if args.quick else 15)
    print(f"backend: {ops.backend()}")
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}, "
        f"median of {reps}+ interleaved rounds"
    )
    cases = benchmark.build_cases(quick=args.quick, with_compile=not args.no_compile, device=args.device)
    rows = []
    for case in cases:
        rows.append(
            (case, benchmark.time_case(case, reps, min_time=0.05 if args.quick else 0.3, device=args.device))
        )
    print(benchmark.format_table(rows))
    return 0
