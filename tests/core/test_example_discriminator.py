"""A discriminator-only plugin, installed as its own distribution, trains with the first-party
GAN from the CLI and from Python: resume, save, load and sample; the config names the plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "aigc-example-discriminator"


def _to(target: Path) -> list[str]:
    return ["--target", str(target), str(EXAMPLE)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            *_to(target),
        ],
        check=True,
        capture_output=True,
        cwd=target,
    )
    assert (target / "aigc_example_discriminator").is_dir()
    return target


def _run(site: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_SDK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def test_cli_trains_resumes_saves_and_samples(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train = ["-m", "aigc_sdk.cli", "train", "cgan", "--dataset", "digits", "--out", str(out)]
    common = ["--discriminator", "minibatch-std-d", "--checkpoint-every", "2", "--no-progress"]
    first = _run(site, [*train, "--steps", "4", *common, "--config", _config(tmp_path)], tmp_path)
    assert first.returncode == 0, first.stderr
    again = _run(site, [*train, "--steps", "6", "--resume", *common, "--config", _config(tmp_path)], tmp_path)
    assert again.returncode == 0, again.stderr
    record = json.loads((out / "model" / "config.json").read_text())["config"]["discriminator"]
    assert record["name"] == "minibatch-std-d"
    assert record["plugin"] == "example_discriminator"
    assert record["distribution"] == "aigc-example-discriminator" and record["version"] == "0.1.0"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "step" in r][-1] in (5, 6)
    grid = tmp_path / "grid.png"
    sample = _run(
        site, ["-m", "aigc_sdk.cli", "sample", str(out / "model"), "-n", "8", "--save", str(grid)], tmp_path
    )
    assert sample.returncode == 0, sample.stderr
    assert grid.stat().st_size > 0


def _config(tmp_path: Path) -> str:
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"channels": 8, "latent_dim": 8}))
    return str(path)


def test_python_round_trip_and_conformance(site: Path, tmp_path: Path) -> None:
    code = f"""
import json, torch, aigc_sdk
from aigc_sdk.training import Trainer
torch.manual_seed(0)
spec = {{"name": "minibatch-std-d", "group": 2}}
model = aigc_sdk.create_model("cgan", dataset="digits", channels=8, discriminator=spec)
Trainer(model, aigc_sdk.load_dataset("digits").load("train"), out_dir={str(tmp_path / "py")!r}, steps=3,
        batch_size=16, progress=False).fit()
model.save({str(tmp_path / "m")!r})
again = aigc_sdk.load({str(tmp_path / "m")!r})
same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
x = again.sample(4, generator=torch.Generator().manual_seed(0))
print(json.dumps({{"same": same, "shape": list(x.shape), "d": type(again.discriminator).__name__,
                  "group": again.get_config()["discriminator"]["config"]["group"]}}))
"""
    proc = _run(site, ["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"same": True, "shape": [4, 1, 8, 8], "d": "MinibatchStdDiscriminator", "group": 2}
    # the plugin's own tests, run against the installed copy
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_conformance.py").write_text((EXAMPLE / "tests" / "test_conformance.py").read_text())
    proc = _run(site, ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 passed" in proc.stdout


def test_missing_plugin_names_the_distribution(site: Path, tmp_path: Path) -> None:
    made = _run(
        site,
        [
            "-c",
            f"import aigc_sdk; aigc_sdk.create_model('gan', dataset='digits', channels=8, "
            f"discriminator='minibatch-std-d').save({str(tmp_path / 'm')!r})",
        ],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    # without the plugin on the path, loading names what to install
    env_free = subprocess.run(
        [
            sys.executable,
            "-m",
            "aigc_sdk.cli",
            "sample",
            str(tmp_path / "m"),
            "-n",
            "2",
            "--grid",
            str(tmp_path / "g.png"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("AIGC_SDK_")},
    )
    assert env_free.returncode != 0
    assert "pip install aigc-example-discriminator" in env_free.stderr
    assert "Traceback" not in env_free.stderr
