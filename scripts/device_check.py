"""First thing to run on a machine with a GPU: build the CUDA kernels for this device, run the
CUDA tests and the ops benchmark, and write one JSON report.

    python scripts/device_check.py --out device-check.json      # or: make device-check
    python scripts/device_check.py --quick --skip-build         # a fast CPU smoke run

Without a CUDA device the GPU steps are recorded as skipped (with the reason) and the CPU op
tests and a small CPU benchmark run instead, so CI keeps the script working. Exit code 0 when
every step that ran passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out + f"\ntimed out after {timeout:.0f} s", time.perf_counter() - t0


def environment() -> dict[str, Any]:
    """Torch, CUDA and device facts (imports torch in this process)."""
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "nvcc": shutil.which("nvcc")
        or (str(Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin" / "nvcc")),
        "cuda_home": os.environ.get("CUDA_HOME", "/usr/local/cuda"),
    }
    if info["cuda_available"]:
        major, minor = torch.cuda.get_device_capability(0)
        info.update(device=torch.cuda.get_device_name(0), capability=f"{major}.{minor}")
    return info


def build_step(env_info: dict[str, Any], skip: bool) -> dict[str, Any]:
    """Rebuild the extension in place for this device's architecture only."""
    if skip:
        return {"status": "skipped", "reason": "--skip-build"}
    if not env_info["cuda_available"]:
        return {"status": "skipped", "reason": "no CUDA device"}
    if env_info["torch_cuda"] is None:
        return {"status": "failed", "reason": "this torch is a CPU build; install a CUDA build of torch"}
    nvcc = Path(env_info["cuda_home"]) / "bin" / "nvcc"
    if not nvcc.exists():
        return {"status": "failed", "reason": f"nvcc not found at {nvcc}: set CUDA_HOME to the CUDA toolkit"}
    env = dict(os.environ, TORCH_CUDA_ARCH_LIST=env_info["capability"], AIGC_SDK_BUILD_CUDA="1")
    env.setdefault("MAX_JOBS", str(os.cpu_count() or 2))
    rc, out, secs = _run([sys.executable, "setup.py", "build_ext", "--inplace"], env=env, timeout=420)
    return {
        "status": "ok" if rc == 0 else "failed",
        "arch": env_info["capability"],
        "seconds": round(secs, 1),
        "log_tail": _tail(out),
    }


def test_step(cuda: bool, quick: bool) -> dict[str, Any]:
    """The CUDA op tests with a GPU; the CPU op tests (a quick subset with --quick) without."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        select = ["-m", "cuda"] if cuda else ["-m", "not cuda"]
        target = ["tests/ops/test_fused_leaky_relu.py"] if (quick and not cuda) else ["tests/ops"]
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *select,
            *target,
            f"--junitxml={xml}",
        ]
        rc, out, secs = _run(cmd, timeout=300)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        failed: list[str] = []
        if xml.exists():
            root = ET.parse(xml).getroot()
            for suite in root.iter("testsuite"):
                for key in counts:
                    counts[key] += int(suite.get(key, 0))
            for case in root.iter("testcase"):
                if case.find("failure") is not None or case.find("error") is not None:
                    failed.append(f"{case.get('classname')}::{case.get('name')}")
    ok = rc in (0, 5) and not failed  # 5: nothing selected
    return {
        "status": "ok" if ok else "failed",
        "device": "cuda" if cuda else "cpu",
        "seconds": round(secs, 1),
        **counts,
        "failed": failed[:50],
        "log_tail": "" if ok else _tail(out),
    }


def bench_step(cuda: bool, quick: bool) -> dict[str, Any]:
    """The ops benchmark table (``aigc bench ops``): fused ops against eager PyTorch."""
    cmd = [
        sys.executable,
        "-m",
        "aigc_sdk.cli",
        "bench",
        "ops",
        "--device",
        "cuda" if cuda else "cpu",
        "--no-compile",
    ]
    if quick or not cuda:
        cmd.append("--quick")
    rc, out, secs = _run(cmd, timeout=300)
    return {
        "status": "ok" if rc == 0 else "failed",
        "device": "cuda" if cuda else "cpu",
        "seconds": round(secs, 1),
        "table": _tail(out, 60),
    }


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Run every step and write the report; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="device-check.json", help="report path (default device-check.json)")
    ap.add_argument("--skip-build", action="store_true", help="use the extension as built")
    ap.add_argument("--quick", action="store_true", help="smoke tests and a tiny benchmark")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    env_info = environment()
    cuda = bool(env_info["cuda_available"])
    steps: dict[str, Any] = {"build": build_step(env_info, args.skip_build)}
    if steps["build"]["status"] == "failed":
        steps["tests"] = {"status": "skipped", "reason": "the build failed"}
        steps["bench"] = {"status": "skipped", "reason": "the build failed"}
    else:
        steps["tests"] = test_step(cuda, args.quick)
        steps["bench"] = bench_step(cuda, args.quick)
    if not cuda:
        steps["cuda_tests"] = {"status": "skipped", "reason": "no CUDA device"}
    report = {
        "environment": env_info,
        "steps": steps,
        "seconds": round(time.perf_counter() - t0, 1),
        "ok": all(s["status"] != "failed" for s in steps.values()),
    }
    write_json_atomic(Path(args.out), report)
    for name, step in steps.items():
        print(f"{name:<11} {step['status']:<8} {step.get('reason', '')}")
    print(f"report: {args.out} ({report['seconds']} s)")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
