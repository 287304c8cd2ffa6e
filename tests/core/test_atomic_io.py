"""aigc_sdk.io's atomic writers: all or nothing, never a torn or leftover file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigc_sdk.io import atomic_write, atomic_write_bytes, atomic_write_text, write_json


def test_writers_replace_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    atomic_write_text(tmp_path / "t.txt", "h\u00e9llo")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "h\u00e9llo"
    write_json(tmp_path / "c.json", {"b": 1, "a": [1.5]})
    assert (tmp_path / "c.json").read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'
    atomic_write(tmp_path / "cb.txt", lambda tmp: Path(tmp).write_text("via callback"))
    assert (tmp_path / "cb.txt").read_text() == "via callback"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.json", "cb.txt", "out.bin", "sub", "t.txt"]


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")

    def half_then_fail(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_permissions_are_those_of_a_normal_file(tmp_path: Path) -> None:
    import os

    (tmp_path / "plain.txt").write_text("x")  # what open() gives under this process's umask
    atomic_write_text(tmp_path / "new.txt", "x")
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777
    (tmp_path / "kept.txt").write_text("old")
    os.chmod(tmp_path / "kept.txt", 0o640)
    atomic_write_text(tmp_path / "kept.txt", "new")  # a replaced file keeps its permissions
    assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o640


def test_artifact_round_trip_and_errors(tmp_path: Path) -> None:
    import torch

    from aigc_sdk.io import load_artifact, save_artifact

    w = torch.arange(6.0).reshape(2, 3).t()  # non-contiguous: saved contiguous
    save_artifact(tmp_path / "a", {"w": w, "b": torch.zeros(2)}, {"format": "demo/1", "k": [1, "x"]})
    config, tensors = load_artifact(tmp_path / "a", "demo/1", "demo")
    assert config == {"format": "demo/1", "k": [1, "x"]}
    torch.testing.assert_close(tensors["w"], w)
    with pytest.raises(ValueError, match="expected 'other/1'"):
        load_artifact(tmp_path / "a", "other/1", "demo")
    with pytest.raises(FileNotFoundError, match="no saved demo"):
        load_artifact(tmp_path / "missing", "demo/1", "demo")
    with pytest.raises(ValueError, match="not plain JSON"):
        save_artifact(tmp_path / "nan", {"w": w}, {"format": "demo/1", "loss": float("nan")})
    assert not (tmp_path / "nan" / "model.safetensors").exists()  # nothing half-written
