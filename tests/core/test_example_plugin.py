"""The example third-party plugin, installed from outside the repo, is discovered through
its entry point and passes the SDK's conformance suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "aigc-example-plugin"


def test_example_plugin_is_discovered_and_conforms(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    assert (target / "aigc_example_plugin").is_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_SDK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")])
    listed = subprocess.run(
        [sys.executable, "-c", "import aigc_sdk; print(aigc_sdk.list_models(family='linear'))"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert listed.stdout.strip() == "['example-linear']"
    # Copy the tests out of the source tree so only the installed copy can be imported.
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_conformance.py").write_text((EXAMPLE / "tests" / "test_conformance.py").read_text())
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "9 passed" in proc.stdout
