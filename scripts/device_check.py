"""First thing to run on a machine with a GPU: build the CUDA kernels for this device, smoke-check
them against the reference, run the CUDA tests and the ops benchmark, and write one JSON report.

    python scripts/device_check.py --out device-check.json      # or: make device-check
    python scripts/device_check.py --quick --skip-build         # a fast smoke run (tests use it)

Steps, each recorded as ``ok``, ``skipped`` (with the reason) or ``failed`` (with the reason):

* ``build``: ``setup.py build_ext --inplace`` with ``TORCH_CUDA_ARCH_LIST`` set to this device's
  compute capability only; CUDA_HOME, nvcc, its version and its architectures are checked first.
* ``smoke``: every op once per device against the pure-PyTorch reference (forward, backward, the
  regenerated eps of ``reparameterize``), and which backend each device uses.
* ``cuda_tests``: ``pytest tests/core/ops -m cuda``; ``cpu_tests``: the CPU op tests (a subset when quick
  or on a GPU machine).
* ``bench``: the ``aigc bench ops`` cases, ms per call and GB/s (bytes read + written once) per size.

Without a CUDA device the build and the CUDA tests are skipped with the reason "no CUDA device"
and the rest runs on the CPU at small sizes. The smoke check and the benchmark run in child
processes, so a kernel that crashes the process is reported instead of losing the report. Exit code
0 when every step that ran passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Prefix of the one stdout line a worker process reports its JSON result on.
MARK = "DEVICE_CHECK_JSON "
#: Whole-run budget in seconds (the check is meant to finish in under 8 minutes).
DEFAULT_BUDGET = 450.0
#: Largest tensor (elements) benchmarked on the CPU.
CPU_BENCH_MAX_NUMEL = 1 << 21

Step = dict[str, Any]


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, str, float]:
    """Run ``cmd`` in the repository root; (exit code, stdout + stderr, seconds). 124 on a timeout."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out + f"\ntimed out after {timeout:.0f} s", time.perf_counter() - t0
    except OSError as exc:
        return 127, f"cannot run {cmd[0]}: {exc}", time.perf_counter() - t0


def _skipped(reason: str) -> Step:
    return {"status": "skipped", "reason": reason}


def _failed(reason: str, **extra: Any) -> Step:
    return {"status": "failed", "reason": reason, **extra}


class Budget:
    """The seconds left of the whole run, handed out as per-step timeouts."""

    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        """Seconds left."""
        return self.end - time.perf_counter()

    def timeout(self, cap: float) -> float:
        """A step's timeout: at most ``cap``, never past the end of the budget."""
        return max(1.0, min(cap, self.left()))


# ----------------------------------------------------------------------------------------- environment


def _cuda_home() -> tuple[str | None, str]:
    """The CUDA toolkit root the build will use, and where it came from (as torch resolves it)."""
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            return os.environ[var], f"${var}"
    nvcc = shutil.which("nvcc")
    if nvcc:
        return str(Path(nvcc).parents[1]), "nvcc on PATH"
    if Path("/usr/local/cuda").exists():
        return "/usr/local/cuda", "default /usr/local/cuda"
    return None, "not found"


def _nvcc_version(nvcc: Path) -> str | None:
    rc, out, _ = _run([str(nvcc), "--version"], timeout=30)
    m = re.search(r"release (\d+\.\d+)", out) if rc == 0 else None
    return m.group(1) if m else None


def _driver_version() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    rc, out, _ = _run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], timeout=30)
    return out.strip().splitlines()[0] if rc == 0 and out.strip() else None


def environment() -> dict[str, Any]:
    """Torch, CUDA toolkit and device facts (imports torch in this process, never aigc_sdk)."""
    import torch

    cuda_home, source = _cuda_home()
    nvcc = Path(cuda_home) / "bin" / "nvcc" if cuda_home else None
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_home": cuda_home,
        "cuda_home_from": source,
        "nvcc": str(nvcc) if nvcc is not None and nvcc.exists() else None,
        "nvcc_version": _nvcc_version(nvcc) if nvcc is not None and nvcc.exists() else None,
        "cuda_available": torch.cuda.is_available(),
        "device": None,
        "capability": None,
    }
    if info["cuda_available"]:
        major, minor = torch.cuda.get_device_capability(0)
        props = torch.cuda.get_device_properties(0)
        info.update(
            device=torch.cuda.get_device_name(0),
            capability=f"{major}.{minor}",
            device_count=torch.cuda.device_count(),
            memory_gib=round(props.total_memory / 2**30, 1),
            driver=_driver_version(),
            torch_arch_list=torch.cuda.get_arch_list(),
        )
    return info


# ----------------------------------------------------------------------------------------------- build


def _nvcc_problem(env_info: dict[str, Any]) -> str | None:
    """Why the CUDA kernels cannot be built for this device, or None."""
    if env_info["torch_cuda"] is None:
        return f"torch {env_info['torch']} is a CPU build: install a CUDA build of torch"
    home = env_info["cuda_home"]
    if home is None:
        return "no CUDA toolkit: CUDA_HOME is unset, nvcc is not on PATH and /usr/local/cuda does not exist"
    on_path = shutil.which("nvcc")
    hint = (
        f" (nvcc is on PATH at {on_path}: set CUDA_HOME to the toolkit root holding bin/nvcc)"
        if on_path
        else ""
    )
    if not Path(home).is_dir():
        return f"CUDA_HOME={home} ({env_info['cuda_home_from']}) does not exist{hint}"
    if env_info["nvcc"] is None:
        return (
            f"nvcc not found at {Path(home) / 'bin' / 'nvcc'}: CUDA_HOME={home} is not a CUDA toolkit{hint}"
        )
    version = env_info["nvcc_version"]
    if version is None:
        return f"{env_info['nvcc']} --version failed or printed no release number"
    if version.split(".")[0] != str(env_info["torch_cuda"]).split(".")[0]:
        return (
            f"nvcc {version} ({env_info['nvcc']}) but torch was built with CUDA {env_info['torch_cuda']}: "
            "the major versions must match; point CUDA_HOME at a matching toolkit"
        )
    rc, out, _ = _run([env_info["nvcc"], "--list-gpu-arch"], timeout=30)
    arch = "compute_" + env_info["capability"].replace(".", "")
    if rc == 0 and "compute_" in out and arch not in out.split():
        known = " ".join(out.split())
        return f"nvcc {version} cannot compile for {arch} (it knows {known}): use a newer CUDA toolkit"
    return None


def _known_build_error(log: str, cuda_home: str) -> str | None:
    """A precise cause for a failed CUDA build whose log shows a known symptom."""
    libdirs = [Path(cuda_home) / d for d in ("lib64", "lib")]
    if "cannot find -lcudart" in log:
        have = [str(d) for d in libdirs if list(d.glob("libcudart*"))]
        where = f"found in {', '.join(have)}" if have else f"not in {cuda_home}/lib64"
        return f"the linker cannot find libcudart ({where}): set CUDA_HOME to the CUDA toolkit root"
    m = re.search(r"fatal error: (\S+\.h): No such file", log)
    if m:
        return f"{m.group(1)} not found: {cuda_home}/include is not a complete CUDA toolkit (set CUDA_HOME)"
    m = re.search(r"nvcc fatal\s*:\s*(.+)", log)
    if m:
        return f"nvcc: {m.group(1).strip()}"
    if re.search(r"Killed|out of memory|cannot allocate memory", log, re.IGNORECASE):
        return "the compiler ran out of memory: lower MAX_JOBS"
    return None


def build_step(env_info: dict[str, Any], skip: bool, budget: Budget) -> Step:
    """Rebuild the extension in place for this device's architecture only."""
    if not env_info["cuda_available"]:
        return _skipped("no CUDA device")
    if skip:
        return _skipped("--skip-build")
    problem = _nvcc_problem(env_info)
    if problem:
        return _failed(problem)
    arch = env_info["capability"]
    env = dict(
        os.environ, TORCH_CUDA_ARCH_LIST=arch, AIGC_SDK_BUILD_CUDA="1", CUDA_HOME=env_info["cuda_home"]
    )
    env.pop("AIGC_SDK_SKIP_EXT", None)
    env.setdefault("MAX_JOBS", str(os.cpu_count() or 2))
    rc, out, secs = _run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "--force"],
        env=env,
        timeout=budget.timeout(360),
    )
    step: Step = {"status": "ok", "arch": arch, "max_jobs": env["MAX_JOBS"], "seconds": round(secs, 1)}
    if rc != 0:
        errors = [ln.strip() for ln in out.splitlines() if re.search(r"\berror\b", ln, re.IGNORECASE)]
        why = "timed out" if rc == 124 else f"exit code {rc}"
        reason = f"setup.py build_ext --inplace --force: {why}"
        known = _known_build_error(out, env_info["cuda_home"])
        step.update(status="failed", reason=f"{reason}: {known}" if known else reason, errors=errors[:15])
    elif "ops_cuda" not in out and "no work to do" not in out:
        step.update(
            status="failed", reason="the build compiled no CUDA source: setup.py chose the CPU-only extension"
        )
    step["log_tail"] = _tail(out)
    return step


# ----------------------------------------------------------------------------------------------- tests


def _pytest(select: str, targets: list[str], budget: Budget, cap: float) -> Step:
    """Run pytest and read the counts and failing tests from its JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", select, *targets]
        cmd += ["--ignore=tests/core/ops/test_device_check.py", f"--junitxml={xml}"]
        rc, out, secs = _run(cmd, timeout=budget.timeout(cap))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        failed: list[str] = []
        skip_reasons: set[str] = set()
        if xml.exists():
            root = ET.parse(xml).getroot()
            for suite in root.iter("testsuite"):
                for key in counts:
                    counts[key] += int(suite.get(key, 0))
            for case in root.iter("testcase"):
                bad = case.find("failure") if case.find("failure") is not None else case.find("error")
                if bad is not None:
                    msg = (bad.get("message") or "").splitlines()[0][:200] if bad.get("message") else ""
                    failed.append(f"{case.get('classname')}::{case.get('name')}: {msg}".rstrip(": "))
                skip = case.find("skipped")
                if skip is not None:
                    skip_reasons.add((skip.get("message") or "")[:200])
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    step: Step = {
        "status": "ok",
        "command": " ".join(["pytest", "-m", repr(select), *targets]),
        "seconds": round(secs, 1),
        "passed": passed,
        **counts,
        "failed": failed[:50],
        "skip_reasons": sorted(skip_reasons)[:10],
    }
    if rc == 124:
        step.update(status="failed", reason="pytest timed out")
    elif failed or rc not in (0, 5):
        step.update(status="failed", reason=f"{len(failed)} failed, {passed} passed (pytest exit code {rc})")
    elif passed == 0:
        step.update(
            status="failed", reason="no test ran" + (f": {sorted(skip_reasons)[0]}" if skip_reasons else "")
        )
    if step["status"] == "failed":
        step["log_tail"] = _tail(out)
    return step


def cuda_tests_step(cuda: bool, budget: Budget) -> Step:
    """Every CUDA-marked op test (``pytest tests/core/ops -m cuda``)."""
    if not cuda:
        return _skipped("no CUDA device")
    return _pytest("cuda", ["tests/core/ops"], budget, cap=240)


def cpu_tests_step(cuda: bool, quick: bool, budget: Budget) -> Step:
    """The CPU op tests: all of tests/core/ops on a CPU machine; the activation's tests when quick
    or on a GPU."""
    targets = ["tests/core/ops/test_fused_leaky_relu.py"] if (quick or cuda) else ["tests/core/ops"]
    return _pytest("not cuda", targets, budget, cap=240)


# ------------------------------------------------------------------------------------- worker processes


def _worker(kind: str, device: str, quick: bool, budget: Budget, cap: float) -> tuple[Step | None, str]:
    """Run this script as a ``--worker`` child; its JSON result (None when it died) and its output."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--device", device]
    if quick:
        cmd.append("--quick")
    rc, out, secs = _run(cmd, timeout=budget.timeout(cap))
    for line in reversed(out.splitlines()):
        if line.startswith(MARK):
            result: Step = json.loads(line[len(MARK) :])
            result["seconds"] = round(secs, 1)
            return result, out
    why = "timed out" if rc == 124 else f"exited with code {rc} before reporting"
    return None, f"the {kind} process on {device} {why}\n{_tail(out)}"


def _smoke_device(device: str) -> dict[str, Any]:
    """Each op once on ``device`` against the reference: forward, gradients, eps regeneration."""
    import torch

    import aigc_sdk.ops as ops
    from aigc_sdk.ops import functional, reference

    res: dict[str, Any] = {}

    def check(name: str, fn: Any) -> None:
        try:
            err = float(fn())
            if device == "cuda":
                torch.cuda.synchronize()
            res[name] = {"ok": err <= 1e-4, "max_abs_err": err}
        except Exception as exc:  # a CUDA error or a mismatch message, recorded as the check's result
            res[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 8, 5, 5, generator=gen).to(device).requires_grad_()
    b = torch.randn(8, generator=gen).to(device).requires_grad_()
    g = torch.randn(4, 8, 5, 5, generator=gen).to(device)

    def lrelu_fwd() -> float:
        return (ops.fused_leaky_relu(x, b) - reference.fused_leaky_relu(x, b)).abs().max().item()

    def lrelu_bwd() -> float:
        got = torch.autograd.grad(ops.fused_leaky_relu(x, b), (x, b), g)
        want = torch.autograd.grad(reference.fused_leaky_relu(x, b), (x, b), g)
        return max((a - w).abs().max().item() for a, w in zip(got, want))

    mu = torch.randn(256, 64, generator=gen).to(device).requires_grad_()
    lv = (0.5 * torch.randn(256, 64, generator=gen)).to(device).requires_grad_()

    def reparam() -> float:
        z, kl, state = functional._reparameterize_with_state(mu, lv, return_kl=True)
        eps = functional._regenerate_eps(mu, state)
        zr, klr = reference.reparameterize(mu, lv, eps=eps, return_kl=True)
        if not 0.8 < eps.std().item() < 1.2:
            raise AssertionError(f"eps std {eps.std().item():.3f}, expected about 1")
        return max((z - zr).abs().max().item(), ((kl - klr).abs() / klr.abs().clamp_min(1)).max().item())

    check("fused_leaky_relu", lrelu_fwd)
    check("fused_leaky_relu backward", lrelu_bwd)
    if functional._use_ext(torch.device(device)):
        check("reparameterize", reparam)
    return res


def _smoke_worker(device: str) -> Step:
    import aigc_sdk.ops as ops

    backend = ops.backend()
    checks = _smoke_device(device)
    bad = [
        f"{k}: {v.get('error') or 'max abs error ' + format(v['max_abs_err'], '.3g')}"
        for k, v in checks.items()
        if not v["ok"]
    ]
    step: Step = {"status": "ok", "device": device, "backend": backend, "checks": checks}
    if backend.get(device) != device:
        reason = backend.get("reason", "")
        if device == "cuda":
            step.update(
                status="failed", reason=f"the CUDA device uses the reference, not the kernels: {reason}"
            )
        else:
            step.update(status="skipped", reason=f"no compiled CPU kernels: {reason}")
    if bad:
        step.update(status="failed", reason="; ".join(bad))
    return step


def _bench_worker(device: str, quick: bool) -> Step:
    import torch

    from aigc_sdk.ops import benchmark

    cuda = device == "cuda"
    cases = benchmark.build_cases(quick=quick or not cuda, with_compile=False, device=device)
    if quick or not cuda:  # the forward pass in float32 (a bandwidth figure per size)
        cases = [c for c in cases if c.mode == "fwd" and c.dtype == "fp32"]
    if not cuda:
        cases = [c for c in cases if _numel(c.size) <= CPU_BENCH_MAX_NUMEL]
    reps, min_time = (3, 0.02) if quick else (10, 0.1)
    rows = []
    figures = []
    for case in cases:
        t = benchmark.time_case(case, reps, min_time=min_time, device=device)
        rows.append((case, t))
        numel = _numel(case.size)
        fig: dict[str, Any] = {
            "op": case.op,
            "size": list(case.size),
            "numel": numel,
            "dtype": case.dtype,
            "mode": case.mode,
            "ms": {k: round(v * 1e3, 4) for k, v in t.items()},
        }
        if case.mode == "fwd":
            nbytes = _fwd_bytes(case.op, case.size, torch.finfo(benchmark.DTYPES[case.dtype]).bits // 8)
            fig["bytes_per_call"] = nbytes
            fig["gb_per_s"] = {k: round(nbytes / v / 1e9, 2) for k, v in t.items()}
        figures.append(fig)
    fused = [f["gb_per_s"]["fused"] for f in figures if "gb_per_s" in f and "fused" in f["gb_per_s"]]
    return {
        "status": "ok" if figures else "failed",
        "device": device,
        "threads": torch.get_num_threads(),
        "gb_per_s_definition": "bytes read + written once (forward) / median seconds per call",
        "peak_fused_gb_per_s": max(fused) if fused else None,
        "figures": figures,
        "table": benchmark.format_table(rows),
    }


def _numel(size: tuple[int, ...]) -> int:
    n = 1
    for s in size:
        n *= s
    return n


def _fwd_bytes(op: str, size: tuple[int, ...], itemsize: int) -> int:
    """Least bytes one forward call moves: inputs read and the output written once."""
    n = _numel(size)
    if op == "reparameterize":  # mu and logvar read, z written (eps is generated in registers)
        return 3 * n * itemsize
    return (2 * n + size[1]) * itemsize  # x read (+ the bias), output written


def smoke_step(cuda: bool, budget: Budget) -> Step:
    """The ops against the reference on each device, in a child process."""
    devices: dict[str, Any] = {}
    for dev in ["cpu", "cuda"] if cuda else ["cpu"]:
        result, out = _worker("smoke", dev, False, budget, cap=120)
        devices[dev] = result if result is not None else _failed(_tail(out, 20))
    statuses = [d["status"] for d in devices.values()]
    status = "failed" if "failed" in statuses else ("ok" if "ok" in statuses else "skipped")
    step: Step = {"status": status, "devices": devices}
    reasons = [f"{k}: {v['reason']}" for k, v in devices.items() if v.get("reason")]
    if reasons and status != "ok":
        step["reason"] = "; ".join(reasons)
    return step


def bench_step(cuda: bool, quick: bool, budget: Budget) -> Step:
    """The ops benchmark (``aigc bench ops`` cases) on the GPU, or on the CPU at small sizes."""
    device = "cuda" if cuda else "cpu"
    result, out = _worker("bench", device, quick, budget, cap=180)
    return result if result is not None else _failed(_tail(out, 20), device=device)


# ------------------------------------------------------------------------------------------------ main


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _summary(step: Step) -> str:
    if step.get("reason"):
        return str(step["reason"]).splitlines()[0][:150]
    if "passed" in step:
        return f"{step['passed']} passed, {step['skipped']} skipped, {step['seconds']} s"
    if "peak_fused_gb_per_s" in step:
        n, peak = len(step["figures"]), step["peak_fused_gb_per_s"]
        return f"{n} cases on {step['device']}, fused up to {peak} GB/s"
    if "arch" in step:
        return f"sm_{step['arch'].replace('.', '')} in {step['seconds']} s"
    if "devices" in step:
        return ", ".join(
            f"{k}: {v.get('backend', {}).get(k, '?')} kernels" for k, v in step["devices"].items()
        )
    return ""


def run_checks(args: argparse.Namespace) -> int:
    """Run every step, write the report and print one line per step; returns the exit code."""
    t0 = time.perf_counter()
    budget = Budget(args.budget)
    env_info = environment()
    cuda = bool(env_info["cuda_available"])
    steps: dict[str, Step] = {"build": build_step(env_info, args.skip_build, budget)}
    if steps["build"]["status"] == "failed":
        for name in ("smoke", "cuda_tests", "cpu_tests", "bench"):
            steps[name] = _skipped("the build failed")
    else:
        steps["smoke"] = smoke_step(cuda, budget)
        steps["cuda_tests"] = cuda_tests_step(cuda, budget)
        steps["cpu_tests"] = cpu_tests_step(cuda, args.quick, budget)
        steps["bench"] = bench_step(cuda, args.quick, budget)
    report = {
        "ok": all(s["status"] != "failed" for s in steps.values()),
        "quick": args.quick,
        "environment": env_info,
        "steps": steps,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json_atomic(Path(args.out), report)
    device = (
        f"{env_info['device']} (sm_{env_info['capability'].replace('.', '')})" if cuda else "no CUDA device"
    )
    versions = f"torch {env_info['torch']} (CUDA {env_info['torch_cuda']}), nvcc {env_info['nvcc_version']}"
    print(f"{versions}, {device}")
    for name, step in steps.items():
        print(f"  {name:<11} {step['status']:<8} {_summary(step)}")
    print(f"{'ok' if report['ok'] else 'FAILED'}: report {args.out} ({report['seconds']} s)")
    return 0 if report["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments; run the checks, or one worker job when ``--worker`` is given."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="device-check.json", help="report path (default device-check.json)")
    ap.add_argument("--skip-build", action="store_true", help="use the extension as built (no rebuild)")
    ap.add_argument("--quick", action="store_true", help="smoke tests and a tiny benchmark")
    ap.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help=f"seconds for the whole run (default {DEFAULT_BUDGET:.0f})",
    )
    ap.add_argument("--worker", choices=("smoke", "bench"), help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        try:
            if args.worker == "smoke":
                result = _smoke_worker(args.device)
            else:
                result = _bench_worker(args.device, args.quick)
        except Exception as exc:  # reported in the JSON line; a crash of the process is caught by the parent
            reason = f"{args.worker} on {args.device}: {type(exc).__name__}: {exc}"
            result = _failed(
                reason[:1000], device=args.device, traceback_tail=_tail(traceback.format_exc(), 15)
            )
        print(MARK + json.dumps(result), flush=True)
        return 0
    return run_checks(args)


if __name__ == "__main__":
    sys.exit(main())
