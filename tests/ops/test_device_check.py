"""The prepared GPU check runs on any machine: GPU steps are skipped, with a reason, without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def test_device_check_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
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
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["ok"] is True
    assert report["environment"]["torch"] == torch.__version__
    steps = report["steps"]
    assert steps["build"] == {"status": "skipped", "reason": "--skip-build"}
    assert (
        steps["tests"]["status"] == "ok" and steps["tests"]["tests"] > 0 and steps["tests"]["failures"] == 0
    )
    assert steps["bench"]["status"] == "ok" and "fused_leaky_relu" in steps["bench"]["table"]
    if torch.cuda.is_available():
        assert steps["tests"]["device"] == "cuda" and "cuda_tests" not in steps
    else:
        assert steps["tests"]["device"] == "cpu"
        assert steps["cuda_tests"] == {"status": "skipped", "reason": "no CUDA device"}
    assert not list(tmp_path.glob("*.tmp"))  # written atomically
