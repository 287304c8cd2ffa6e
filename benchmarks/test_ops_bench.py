"""pytest-benchmark suite of the compiled ops.

Each group is one (op, size, dtype, mode), so the fused op, the eager composite, torch.compile of
the composite and ``x * 2.0`` (memory floor) compare side by side::

    pytest benchmarks/test_ops_bench.py --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
"""

from __future__ import annotations

import os

import pytest
import torch

from aigc_sdk.ops import benchmark

_QUICK = os.environ.get("AIGC_BENCH_QUICK", "0") == "1"
_CASES = benchmark.build_cases(quick=_QUICK, with_compile=os.environ.get("AIGC_BENCH_COMPILE", "1") == "1")
_PARAMS = [
    pytest.param(case, variant, id=f"{case.label.replace(' ', '-')}-{variant}")
    for case in _CASES
    for variant in case.fns
]


@pytest.mark.parametrize("case,variant", _PARAMS)
def test_ops(benchmark_fixture_proxy, case, variant):
    fn = case.fns[variant]
    fn()  # warm-up / compile outside the timing
    benchmark_fixture_proxy.group = case.label
    benchmark_fixture_proxy.extra_info["variant"] = variant
    benchmark_fixture_proxy.extra_info["threads"] = torch.get_num_threads()
    benchmark_fixture_proxy.pedantic(fn, rounds=7 if _QUICK else 25, iterations=1, warmup_rounds=1)


@pytest.fixture
def benchmark_fixture_proxy(benchmark):
    """The pytest-benchmark fixture (named apart so the parametrised ``case`` reads clearly)."""
    return benchmark
