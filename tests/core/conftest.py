"""Helpers that fake installed distributions, so plugin discovery is tested for real
(through importlib.metadata entry points) without touching the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def make_distribution(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write a minimal installed distribution (dist-info + modules) into ``site``."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = ["[aigc_sdk]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


def run_py(
    code: str, site: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter with ``site`` on the path."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_SDK_")}
    if site is not None:
        full_env["PYTHONPATH"] = os.pathsep.join([str(site), full_env.get("PYTHONPATH", "")])
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def aigc_json(args: list[str], site: Path | None = None, env: dict[str, str] | None = None) -> dict:
    """Run ``aigc ARGS --json`` in a subprocess and parse its output."""
    proc = run_py(
        f"import sys; from aigc_sdk.cli import main; sys.exit(main({[*args, '--json']!r}))", site, env
    )
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty directory to install fake distributions into."""
    path = tmp_path / "site"
    path.mkdir()
    return path
