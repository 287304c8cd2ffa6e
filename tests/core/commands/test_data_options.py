"""`aigc train --dataset NAME --data KEY=VALUE,...` passes options to data sets that need them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aigc_sdk.cli import main
from aigc_sdk.commands.data_options import parse_key_values
from aigc_sdk.errors import UsageError


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((12, 12)) * 255).astype("uint8")
            Image.fromarray(pixels, mode="L").save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize(("model", "classes"), [("gan", None), ("cgan", 2), ("vae", None), ("ae", None)])
def test_image_folder_trains_from_the_cli(tmp_path: Path, model: str, classes: int | None) -> None:
    root = _folder(tmp_path / "images")
    out = tmp_path / "run"
    args = ["train", model, "--dataset", "image-folder", "--data", f"root={root},size=8"]
    code = main([*args, "--out", str(out), "--steps", "2", "--batch-size", "4", "--no-progress"])
    assert code == 0
    config = json.loads((out / "model" / "config.json").read_text())["config"]
    assert config["data_shape"] == [1, 8, 8]
    assert config.get("num_classes") == classes  # gan/vae/ae stay unconditional


def test_parse_key_values() -> None:
    assert parse_key_values("root=/a b,size=64,rgb=true,x=1.5", "--data") == {
        "root": "/a b",
        "size": 64,
        "rgb": True,
        "x": 1.5,
    }
    with pytest.raises(UsageError, match=r"--data: expected KEY=VALUE"):
        parse_key_values("root", "--data")


def test_bad_data_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["train", "gan", "--dataset", "image-folder", "--data", "rooot=x", "--out", str(tmp_path / "r")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "rooot" in err and "Traceback" not in err


def test_sample_accepts_a_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train = ["train", "ae", "--dataset", "digits", "--out", str(out), "--steps", "2", "--no-progress"]
    assert main(train) == 0
    grid = tmp_path / "grid.png"
    assert main(["sample", str(out), "-n", "4", "--grid", str(grid)]) == 0  # the run dir, not DIR/model
    assert grid.stat().st_size > 0


def test_bad_data_option_lists_the_accepted_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "train",
            "gan",
            "--dataset",
            "image-folder",
            "--data",
            f"root={tmp_path},rot=1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "'rot'" in err and "accepted options: mode, root" in err


def test_eval_and_augment_take_data_options_and_a_data_config(tmp_path: Path) -> None:
    root = _folder(tmp_path / "images")
    config = tmp_path / "data.json"
    config.write_text(json.dumps({"root": str(root), "size": 99}))
    out = tmp_path / "run"
    # --data overrides --data-config key by key
    train = ["train", "cvae", "--dataset", "image-folder", "--data-config", str(config), "--data", "size=8"]
    assert main([*train, "--out", str(out), "--steps", "2", "--batch-size", "4", "--no-progress"]) == 0
    report = tmp_path / "report.json"
    ev = ["eval", str(out), "--dataset", "image-folder", "--data", f"root={root},size=8", "--metrics", "fid"]
    assert main([*ev, "--extractor", "raw", "--n", "10", "--json", str(report)]) == 0
    doc = json.loads(report.read_text())
    assert doc["dataset_options"] == {"root": str(root), "size": 8} and "fid" in doc["metrics"]
    grid = tmp_path / "var.png"
    var = [
        "augment",
        "variations",
        str(out / "model"),
        "--dataset",
        "image-folder",
        "--data-config",
        str(config),
    ]
    assert main([*var, "--data", "size=8", "--class", "0", "-n", "4", "--out", str(grid)]) == 0
    assert grid.stat().st_size > 0


def test_bad_data_config_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    args = ["train", "gan", "--dataset", "image-folder", "--out", str(tmp_path / "r"), "--data-config"]
    assert main([*args, str(bad)]) == 2
    assert "must hold a JSON object" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_streaming_folder_evaluates_like_an_in_memory_one(tmp_path: Path) -> None:
    root = _folder(tmp_path / "images")
    out = tmp_path / "run"
    train = ["train", "cgan", "--dataset", "image-folder", "--data", f"root={root},size=8,stream=true"]
    assert main([*train, "--out", str(out), "--steps", "2", "--batch-size", "4", "--no-progress"]) == 0
    values = []
    for stream in ("true", "false"):
        report = tmp_path / f"{stream}.json"
        ev = ["eval", str(out), "--dataset", "image-folder", "--data", f"root={root},size=8,stream={stream}"]
        assert main([*ev, "--metrics", "fid,cas", "--n", "10", "--json", str(report)]) == 0
        values.append(json.loads(report.read_text())["metrics"])
    assert values[0] == values[1]


def test_nproc_beyond_the_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    import torch

    from aigc_sdk.commands.train import _nproc_problem

    cores = os.cpu_count() or 1
    assert _nproc_problem(cores + 1, "cpu") is None  # runs, sharing the cores ...
    assert "more than the" in capsys.readouterr().err  # ... with a warning
    if torch.cuda.is_available():
        return  # the GPU cases need a machine without GPUs to fail fast
    args = ["train", "ae", "--dataset", "digits", "--nproc", "2", "--device", "cuda"]
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err
