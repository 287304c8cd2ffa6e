"""The prepared GPU check (scripts/device_check.py) runs on any machine and writes its report.

Without a CUDA device its GPU steps are skipped with the reason; with one they must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
STEPS = ["build", "smoke", "cuda_tests", "cpu_tests", "bench"]
STATUSES = {"ok", "skipped", "failed"}


def test_device_check_quick_run_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "device_check.py"),
            "--quick",
            "--skip-build",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"report {out}" in proc.stdout
    report = json.loads(out.read_text())
    assert not list(out.parent.glob("*.tmp"))  # written through a temporary file and a rename

    assert report["ok"] is True and report["quick"] is True
    assert isinstance(report["seconds"], float)
    envi = report["environment"]
    assert envi["torch"] == torch.__version__ and envi["torch_cuda"] == torch.version.cuda
    assert envi["cuda_available"] is torch.cuda.is_available()

    steps = report["steps"]
    assert list(steps) == STEPS
    for name, step in steps.items():
        assert step["status"] in STATUSES, name
        if step["status"] != "ok":
            assert step["reason"], name

    cpu_tests = steps["cpu_tests"]
    assert cpu_tests["status"] == "ok" and cpu_tests["passed"] > 0 and cpu_tests["failures"] == 0

    bench = steps["bench"]
    assert bench["status"] == "ok" and bench["figures"]
    for fig in bench["figures"]:
        assert fig["op"] in {"fused_leaky_relu", "reparameterize"}
        assert fig["numel"] == torch.Size(fig["size"]).numel()
        assert fig["gb_per_s"]["fused"] > 0 and fig["ms"]["fused"] > 0
    assert "fused_leaky_relu" in bench["table"]

    smoke = steps["smoke"]
    assert smoke["status"] in {"ok", "skipped"}  # skipped: no compiled kernels at all
    assert smoke["devices"]["cpu"]["backend"]["cpu"] in {"cpu", "reference"}

    if torch.cuda.is_available():
        assert envi["device"] and envi["capability"]
        assert steps["build"] == {"status": "skipped", "reason": "--skip-build"}
        assert smoke["status"] == "ok" and smoke["devices"]["cuda"]["status"] == "ok"
        assert steps["cuda_tests"]["status"] == "ok" and steps["cuda_tests"]["passed"] > 0
        assert bench["device"] == "cuda"
    else:
        assert envi["device"] is None and envi["capability"] is None
        for name in ("build", "cuda_tests"):
            assert steps[name] == {"status": "skipped", "reason": "no CUDA device"}
        assert "cuda" not in smoke["devices"]
        assert bench["device"] == "cpu"
