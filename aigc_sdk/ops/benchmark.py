"""Benchmark cases of the compiled ops, shared by ``aigc bench ops`` and benchmarks/test_ops_bench.py.

Each case is one (op, size, dtype, mode); its variants are the fused op, the eager composite,
``torch.compile`` of the composite, and ``x * 2.0`` at the same size as the one-pass memory floor.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import aigc_sdk.ops as ops

ACT_SIZES: list[tuple[int, ...]] = [(8, 256, 32, 32), (32, 256, 32, 32), (4096, 512)]
SAMPLE_SIZES: list[tuple[int, ...]] = [(4096, 4096), (256, 128)]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
VARIANTS = ("fused", "eager", "compile", "x*2")
SQRT2 = math.sqrt(2)


@dataclass
class Case:
    """One table row: the callables to time, by variant name."""

    op: str
    size: tuple[int, ...]
    dtype: str
    mode: str
    fns: dict[str, Callable[[], object]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short row label, also the pytest-benchmark group."""
        return f"{self.op} {'x'.join(map(str, self.size))} {self.dtype} {self.mode}"


def _eager_act(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    shape = [1] * x.dim()
    shape[1] = -1
    return F.leaky_relu(x + b.view(shape), 0.2) * SQRT2


def _eager_sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def _fused_act(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ops.fused_leaky_relu(x, b)


def _fused_sample(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return ops.reparameterize(mu, logvar)  # type: ignore[return-value]


def _floor(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
    return x * 2.0


def _mode_fn(
    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mode: str,
    a: torch.Tensor,
    b: torch.Tensor,
    g: torch.Tensor,
    w: torch.Tensor,
) -> Callable[[], object]:
    if mode == "fwd":

        def run() -> object:
            with torch.no_grad():
                return f(a, b)

    elif mode == "fwd+bwd":

        def run() -> object:
            return torch.autograd.grad(f(a, b), (a, b), g)

    else:  # double backward, R1 style: d/dw |d(sum(w * f(x, b)))/dx|^2

        def run() -> object:
            (gx,) = torch.autograd.grad((f(a, b) * w).sum(), a, create_graph=True)
            return torch.autograd.grad(gx.square().sum(), (w, b), allow_unused=True)

    return run


def build_cases(quick: bool = False, with_compile: bool = True, device: str = "cpu") -> list[Case]:
    """All cases of the table (``quick``: the first size of each op and fewer modes)."""
    cases: list[Case] = []
    act_sizes = ACT_SIZES[:1] + ACT_SIZES[2:] if quick else ACT_SIZES
    sample_sizes = SAMPLE_SIZES
    for dname, dtype in DTYPES.items():
        for size in act_sizes:
            x = torch.randn(size, device=device, dtype=dtype)
            b = torch.randn(size[1], device=device, dtype=dtype)
            g = torch.randn(size, device=device, dtype=dtype)
            w = torch.randn(size, device=device, dtype=dtype, requires_grad=True)
            for mode in ("fwd", "fwd+bwd", "double bwd"):
                a = x.detach().requires_grad_(mode != "fwd")
                bb = b.detach().requires_grad_(mode != "fwd")
                case = Case("fused_leaky_relu", size, dname, mode)
                case.fns["fused"] = _mode_fn(_fused_act, mode, a, bb, g, w)
                case.fns["eager"] = _mode_fn(_eager_act, mode, a, bb, g, w)
                if with_compile and mode != "double bwd":  # torch.compile cannot do double backward
                    case.fns["compile"] = _mode_fn(
                        torch.compile(_eager_act, dynamic=False), mode, a, bb, g, w
                    )
                if mode == "fwd":
                    case.fns["x*2"] = _mode_fn(_floor, mode, a, bb, g, w)
                cases.append(case)
        for size in sample_sizes:
            mu = torch.randn(size, device=device, dtype=dtype)
            lv = torch.randn(size, device=device, dtype=dtype) * 0.5
            g = torch.randn(size, device=device, dtype=dtype)
            for mode in ("fwd", "fwd+bwd"):
                a = mu.detach().requires_grad_(mode != "fwd")
                bb = lv.detach().requires_grad_(mode != "fwd")
                case = Case("reparameterize", size, dname, mode)
                case.fns["fused"] = _mode_fn(_fused_sample, mode, a, bb, g, g)
                case.fns["eager"] = _mode_fn(_eager_sample, mode, a, bb, g, g)
                if with_compile:
                    case.fns["compile"] = _mode_fn(
                        torch.compile(_eager_sample, dynamic=False), mode, a, bb, g, g
                    )
                if mode == "fwd":
                    case.fns["x*2"] = _mode_fn(_floor, mode, a, bb, g, g)
                cases.append(case)
    return cases


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_case(case: Case, reps: int, min_time: float = 0.2, device: str = "cpu") -> dict[str, float]:
    """Median seconds per call of each variant; variants are interleaved round by round."""
    names = list(case.fns)
    for n in names:  # warm-up (and compilation)
        case.fns[n]()
        case.fns[n]()
    _sync(device)
    # Calls per sample so that one sample takes >= ~1 ms (timer resolution, small sizes).
    t0 = time.perf_counter()
    case.fns[names[0]]()
    _sync(device)
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(1e-3 / one))
    samples: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    r = 0
    while r < reps or (time.perf_counter() - start < min_time and r < 10 * reps):
        for n in names:
            fn = case.fns[n]
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            _sync(device)
            samples[n].append((time.perf_counter() - t) / inner)
        r += 1
    return {n: statistics.median(v) for n, v in samples.items()}


def format_table(rows: list[tuple[Case, dict[str, float]]]) -> str:
    """The one table: ms per call of each variant and the speed-ups of the fused op."""
    head = [
        "case",
        "fused ms",
        "eager ms",
        "compile ms",
        "x*2 ms",
        "fused/x*2",
        "eager/fused",
        "compile/fused",
    ]
    lines = []
    for case, t in rows:

        def ms(k: str, t: dict[str, float] = t) -> str:
            return f"{t[k] * 1e3:.3f}" if k in t else "-"

        def ratio(a: str, b: str, t: dict[str, float] = t) -> str:
            return f"{t[a] / t[b]:.2f}x" if a in t and b in t else "-"

        lines.append(
            [
                case.label,
                ms("fused"),
                ms("eager"),
                ms("compile"),
                ms("x*2"),
                ratio("fused", "x*2"),
                ratio("eager", "fused"),
                ratio("compile", "fused"),
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [fmt(head), fmt(["-" * w for w in widths])]
    out += [fmt(line) for line in lines]
    return "\n".join(out)
