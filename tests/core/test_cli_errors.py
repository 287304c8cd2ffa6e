"""The ``aigc`` command reports errors on one line (exit 2: usage, 1: runtime), tracebacks only on request."""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
import torch

import aigc_sdk
from aigc_sdk.cli import debug_from_env, exit_code_for, main
from aigc_sdk.errors import CorruptFileError, ModelMismatchError, UsageError
from aigc_sdk.io import CONFIG_FILE, WEIGHTS_FILE, check_output_path, save_model
from aigc_sdk.specs import check_allocation, check_model_config

HINT = "(run with --debug for the traceback)"


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    """The captured stderr, asserted to hold exactly one error line (no traceback)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def _unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot create files in (root ignores chmod, so try /sys too)."""
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    for cand in (d, Path("/sys")):
        try:
            fd, probe = tempfile.mkstemp(dir=cand)
        except OSError:
            return cand
        Path(probe).unlink()
        import os

        os.close(fd)
    pytest.skip("no unwritable directory on this machine")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small VAE on the digits shape (1, 8, 8), saved as config.json + model.safetensors."""
    torch.manual_seed(0)
    model = aigc_sdk.create_model("vae", dataset="digits", channels=4, hidden=8, latent_dim=2)
    return save_model(model, tmp_path_factory.mktemp("m") / "model")


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    """A private copy of the saved model that a test may damage."""
    return Path(shutil.copytree(saved, tmp_path / "model"))


# --------------------------------------------------------------------------- the rules


def test_debug_env_values() -> None:
    for on in ("1", "true", "TRUE", "Yes", "on", " On "):
        assert debug_from_env({"AIGC_SDK_DEBUG": on})
    for off in ("0", "false", "No", "OFF", "", "  "):
        assert not debug_from_env({"AIGC_SDK_DEBUG": off})
    assert not debug_from_env({})


def test_exit_codes_by_kind() -> None:
    assert exit_code_for(UsageError("x")) == 2
    assert exit_code_for(ValueError("x")) == 2
    assert exit_code_for(KeyError("x")) == 2
    for runtime in (OSError("x"), RuntimeError("x"), MemoryError(), CorruptFileError("x")):
        assert exit_code_for(runtime) == 1
    assert exit_code_for(ModelMismatchError("x")) == 1


def test_runtime_error_is_one_line_and_debug_shows_traceback(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (copy / WEIGHTS_FILE).write_bytes(b"garbage!" * 4)
    argv = ["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]
    monkeypatch.delenv("AIGC_SDK_DEBUG", raising=False)
    assert main(argv) == 1
    line = _err(capsys)
    assert line.startswith("aigc sample: error: ") and line.endswith(HINT)
    assert main(["--debug", *argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "CorruptFileError" in err and HINT not in err
    monkeypatch.setenv("AIGC_SDK_DEBUG", "yes")
    assert main(argv) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("AIGC_SDK_DEBUG", "off")
    assert main(argv) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_keyboard_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    import aigc_sdk.cli as cli

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    parser = cli.build_parser()
    parser.set_defaults(command="x", func=interrupted)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 130
    assert "interrupted" in capsys.readouterr().err


# --------------------------------------------------------------------------- output paths


def test_out_is_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "taken"
    out.write_text("x")
    code = main(["train", "vae", "--dataset", "digits", "--steps", "1", "--out", str(out)])
    assert code == 2
    line = _err(capsys)
    assert "--out" in line and "not a directory" in line
    assert out.read_text() == "x"


def test_out_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a directory"):
        check_output_path(tmp_path / "f" / "sub", "--out")
    with pytest.raises(UsageError, match="is a directory"):
        check_output_path(tmp_path, "--save", kind="file")


def test_out_unwritable_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ro = _unwritable_dir(tmp_path)
    code = main(["train", "vae", "--dataset", "digits", "--steps", "1", "--out", str(ro / "run")])
    assert code == 2
    line = _err(capsys)
    assert "--out" in line and "cannot write" in line


def test_sample_save_is_a_directory(saved: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sample", str(saved), "-n", "2", "--save", str(tmp_path)]) == 2
    line = _err(capsys)
    assert "--save" in line and "is a directory" in line


# --------------------------------------------------------------------------- corrupt saved models


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"\x00garbage" * 8, id="garbage"),
        pytest.param(lambda b: struct.pack("<Q", 10**15) + b[8:], id="oversized-header"),
    ],
)
def test_corrupt_weights(copy: Path, tmp_path: Path, capsys, damage) -> None:  # type: ignore[no-untyped-def]
    path = copy / WEIGHTS_FILE
    path.write_bytes(damage(path.read_bytes()))
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 1
    line = _err(capsys)
    assert f"{WEIGHTS_FILE} in {str(copy)!r} is corrupt or truncated" in line


def test_weights_not_matching_config(copy: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    record = json.loads((copy / CONFIG_FILE).read_text())
    record["config"]["latent_dim"] = 3
    (copy / CONFIG_FILE).write_text(json.dumps(record))
    with pytest.raises(ModelMismatchError, match="does not match"):
        aigc_sdk.load(copy)
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 1
    line = _err(capsys)
    assert WEIGHTS_FILE in line and str(copy) in line and "shape (saved vs model)" in line


def test_config_with_overflowing_number(copy: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = (copy / CONFIG_FILE).read_text().replace('"latent_dim": 2', '"latent_dim": 1e999')
    (copy / CONFIG_FILE).write_text(text)
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 2
    line = _err(capsys)
    assert CONFIG_FILE in line and "latent_dim is inf" in line


def test_config_nested_too_deeply(copy: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    record = (copy / CONFIG_FILE).read_text()
    deep = "[" * 100_000 + "]" * 100_000
    (copy / CONFIG_FILE).write_text(record.replace('"lr": 0.001', f'"lr": {deep}'))
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 1
    line = _err(capsys)
    assert CONFIG_FILE in line and "nested too deeply" in line


def test_config_absurd_latent_dim(copy: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    record = json.loads((copy / CONFIG_FILE).read_text())
    record["config"]["latent_dim"] = 10**12
    (copy / CONFIG_FILE).write_text(json.dumps(record))
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 2
    line = _err(capsys)
    assert "latent_dim=1000000000000" in line and CONFIG_FILE in line
    with pytest.raises(UsageError, match="latent_dim"):
        check_model_config({"latent_dim": 10**12}, "x")
    check_model_config({"latent_dim": 16, "steps": 10**12}, "x")  # only widths are capped


def test_train_config_absurd_latent_dim(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"latent_dim": 10**12}))
    argv = ["train", "vae", "--dataset", "digits", "--steps", "1", "--config", str(cfg)]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    line = _err(capsys)
    assert "--config" in line and "latent_dim" in line
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- devices and sizes


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_gpu(saved: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    expected = "--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is False)"
    assert main(["sample", str(saved), "-n", "2", "--save", str(tmp_path / "s"), "--device", "cuda"]) == 2
    assert expected in _err(capsys)
    code = main(
        [
            "train",
            "vae",
            "--dataset",
            "digits",
            "--steps",
            "1",
            "--out",
            str(tmp_path / "r"),
            "--device",
            "cuda",
        ]
    )
    assert code == 2 and expected in _err(capsys)
    assert main(["bench", "ops", "--quick", "--device", "cuda"]) == 2
    assert expected in _err(capsys)


def test_sample_huge_n(saved: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "s.safetensors"
    assert main(["sample", str(saved), "-n", "100000000", "--save", str(out)]) == 2
    line = _err(capsys)
    assert "-n 100000000 would need 25.6 GB for the samples" in line and "smaller -n" in line
    assert not out.exists()


def test_check_allocation_limit() -> None:
    check_allocation("-n 10", 10 * 64 * 4)
    with pytest.raises(UsageError, match=r"--x 1 would need 1\.0 PB for y, more than the limit"):
        check_allocation("--x 1", 10**15, purpose="for y")
