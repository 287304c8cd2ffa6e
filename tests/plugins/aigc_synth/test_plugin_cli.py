"""The plugin's hooks (registered in-process) and the ``aigc synth`` command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

import aigc_synth
from aigc_sdk.interfaces import UseCase
from aigc_sdk.registry import Registry


def test_package_is_light_and_declares_api() -> None:
    assert aigc_synth.AIGC_SDK_API == ">=1,<2"
    src = Path(aigc_synth.__file__).read_text()
    assert "import torch" not in src and "import pandas" not in src


def test_use_case_registers_lazily() -> None:
    reg = Registry(autoload=False)
    reg.host.register(aigc_synth)
    assert "synth" in reg.list_names("use_case")
    entry = reg.get("use_case", "synth")
    assert entry.target == "aigc_synth.synthesizer:Synthesizer"
    synth = reg.create("use_case", "synth", kind="tvae", epochs=1)
    assert isinstance(synth, UseCase) and synth.kind == "tvae"


def test_entry_point_discovery() -> None:
    import importlib.metadata

    if not any(e.value == "aigc_synth" for e in importlib.metadata.entry_points(group="aigc_sdk")):
        pytest.skip("aigc_synth is not installed with its entry point")
    reg = Registry()
    assert "synth" in reg.list_names("use_case")
    assert reg.get("use_case", "synth").plugin == "synth"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigc")
    sub = parser.add_subparsers(dest="command")
    aigc_synth.register_commands(subparsers=sub)
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return int(args.func(args))


def test_cli_fit_sample_report(frame: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("aigc_metrics.tabular")
    train, real = tmp_path / "train.csv", tmp_path / "real.csv"
    frame.iloc[:300].to_csv(train, index=False)
    frame.iloc[300:].to_csv(real, index=False)
    model = tmp_path / "model"
    opts = ["--option", "hidden=[32]", "--option", "batch_size=100", "--threads", "1"]
    assert (
        _run("synth", "fit", str(train), "--out", str(model), "--target", "Status", "--epochs", "3", *opts)
        == 0
    )
    assert (model / "config.json").is_file() and (model / "model.safetensors").is_file()

    out = tmp_path / "rows.csv"
    cond = ["--condition", "Status=bad", "--condition", "group=b"]
    assert _run("synth", "sample", str(model), "-n", "50", "--out", str(out), *cond) == 0
    rows = pd.read_csv(out)
    assert len(rows) == 50 and (rows["Status"] == "bad").all() and (rows["group"] == "b").all()
    with pytest.raises(ValueError, match="never seen"):
        _run("synth", "sample", str(model), "-n", "5", "--out", str(out), "--condition", "Status=maybe")
    with pytest.raises(ValueError, match="positive int"):
        _run("synth", "sample", str(model), "-n", "0", "--out", str(out))

    report = tmp_path / "report.json"
    assert (
        _run("synth", "report", str(model), "--real", str(real), "--train", str(train), "--out", str(report))
        == 0
    )
    rep = json.loads(report.read_text())
    assert rep["evaluation"]["rows_real"] == 100 and "utility" in rep["evaluation"]
    assert report.with_suffix(".md").read_text().startswith("# Synthetic data report")
    assert not list(tmp_path.glob("**/*.tmp"))


def test_cli_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("synth") == 2
    assert "fit" in capsys.readouterr().out
