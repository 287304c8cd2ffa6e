"""``aigc augment generate|variations`` through the plugin's register_commands hook (in-process)."""

from __future__ import annotations

import argparse
import json

import pytest


def _parser() -> argparse.ArgumentParser:
    import aigc_augment

    parser = argparse.ArgumentParser(prog="aigc")
    aigc_augment.register_commands(parser.add_subparsers(dest="command"))
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return int(args.func(args))


def test_generate_writes_grid_report_and_tensors_atomically(tmp_path):
    from PIL import Image
    from safetensors.torch import load_file

    out = tmp_path / "run"
    rc = _run(
        "augment",
        "generate",
        "digits",
        "--per-class",
        "3",
        "--labelled-per-class",
        "10",
        "--out",
        str(out),
        "--steps",
        "20",
        "--teacher-steps",
        "10",
        "--eval-steps",
        "10",
        "--test",
        "split",
        "--save-model",
        "--quiet",
    )
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.png", "model", "report.json", "report.md", "synthetic.safetensors"]
    assert not list(out.rglob("*.tmp"))  # nothing half-written left behind
    with Image.open(out / "grid.png") as img:
        assert img.format == "PNG" and img.size[0] > 8 and img.size[1] > 8
    tensors = load_file(str(out / "synthetic.safetensors"))
    assert tensors["x"].shape == (30, 1, 8, 8) and tensors["y"].shape == (30,)
    report = json.loads((out / "report.json").read_text())
    assert report["fit"]["labelled"] == 100 and report["samples"]["per_class"] == 3
    assert set(report["evaluation"]["accuracy"]) >= {"real", "real+synthetic"}
    assert "# Augmentation report" in (out / "report.md").read_text()

    grid = tmp_path / "var.png"
    rc = _run(
        "augment",
        "variations",
        str(out / "model"),
        "--dataset",
        "digits",
        "--index",
        "3",
        "-n",
        "4",
        "--out",
        str(grid),
    )
    assert rc == 0 and grid.read_bytes()[:4] == b"\x89PNG"


def test_generate_is_reproducible(tmp_path):
    args = (
        "--per-class",
        "2",
        "--labelled-per-class",
        "8",
        "--steps",
        "10",
        "--teacher-steps",
        "5",
        "--quiet",
    )
    assert _run("augment", "generate", "digits", "--out", str(tmp_path / "a"), *args) == 0
    assert _run("augment", "generate", "digits", "--out", str(tmp_path / "b"), *args) == 0
    for name in ("synthetic.safetensors", "grid.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bad_cli_input_raises_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="per-class"):
        _run("augment", "generate", "digits", "--per-class", "0", "--out", str(tmp_path / "x"))
    with pytest.raises(ValueError, match="labelled-per-class"):
        _run(
            "augment",
            "generate",
            "digits",
            "--per-class",
            "1",
            "--labelled-per-class",
            "0",
            "--out",
            str(tmp_path / "x"),
        )
    assert not (tmp_path / "x").exists()
    assert _run("augment") == 2  # no action: help and a usage exit code
