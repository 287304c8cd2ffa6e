"""`aigc plugins new NAME` writes a package that installs, is discovered and passes its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigc_sdk.cli import main

_PIP_INSTALL = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]


def test_new_plugin_installs_and_passes_its_tests(tmp_path: Path) -> None:
    assert main(["plugins", "new", "demo-plugin", "--dir", str(tmp_path)]) == 0
    pkg = tmp_path / "demo-plugin"
    assert {p.name for p in pkg.iterdir()} == {"pyproject.toml", "README.md", "demo_plugin", "tests"}
    lint = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "E,F,W,B",
            "--line-length",
            "110",
            str(pkg),
        ]
    )
    assert lint.returncode == 0  # the generated code is clean
    site = tmp_path / "site"
    subprocess.run(
        [*_PIP_INSTALL, "--target", str(site), str(pkg)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_SDK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    tests = tmp_path / "copied-tests"  # run against the installed copy, not the source folder
    tests.mkdir()
    (tests / "test_conformance.py").write_text((pkg / "tests" / "test_conformance.py").read_text())
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "9 passed" in proc.stdout


@pytest.mark.parametrize("name", ["", "1abc", "a b", "bad/name", "class"])
def test_bad_plugin_name_is_a_usage_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins", "new", name, "--dir", str(tmp_path)]) == 2
    assert "NAME" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    assert main(["plugins", "new", "demo", "--dir", str(tmp_path)]) == 1
    assert (tmp_path / "demo" / "keep.txt").read_text() == "mine"
