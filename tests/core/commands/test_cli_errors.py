"""The ``aigc`` command reports errors on one line (exit 2: usage, 1: runtime), tracebacks only on request."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
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
        os.close(fd)
        Path(probe).unlink()
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


def test_keyboard_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_sample_save_is_a_directory(saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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
def test_corrupt_weights(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Callable[[bytes], bytes]
) -> None:
    path = copy / WEIGHTS_FILE
    path.write_bytes(damage(path.read_bytes()))
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 1
    line = _err(capsys)
    assert f"{WEIGHTS_FILE} in {str(copy)!r} is corrupt or truncated" in line


def test_weights_not_matching_config(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = json.loads((copy / CONFIG_FILE).read_text())
    record["config"]["latent_dim"] = 3
    (copy / CONFIG_FILE).write_text(json.dumps(record))
    with pytest.raises(ModelMismatchError, match="does not match"):
        aigc_sdk.load(copy)
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 1
    line = _err(capsys)
    assert WEIGHTS_FILE in line and str(copy) in line and "shape (saved vs model)" in line


def test_config_with_overflowing_number(
    copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (copy / CONFIG_FILE).read_text().replace('"latent_dim": 2', '"latent_dim": 1e999')
    (copy / CONFIG_FILE).write_text(text)
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 2
    line = _err(capsys)
    assert CONFIG_FILE in line and "latent_dim is inf" in line


def test_config_nested_too_deeply(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = (copy / CONFIG_FILE).read_text()
    deep = "[" * 100_000 + "]" * 100_000
    (copy / CONFIG_FILE).write_text(record.replace('"lr": 0.001', f'"lr": {deep}'))
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 1
    line = _err(capsys)
    assert CONFIG_FILE in line and "nested too deeply" in line


def test_config_absurd_latent_dim(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = json.loads((copy / CONFIG_FILE).read_text())
    record["config"]["latent_dim"] = 10**12
    (copy / CONFIG_FILE).write_text(json.dumps(record))
    assert main(["sample", str(copy), "-n", "2", "--save", str(tmp_path / "s.safetensors")]) == 2
    line = _err(capsys)
    assert "latent_dim=1000000000000" in line and CONFIG_FILE in line
    with pytest.raises(UsageError, match="latent_dim"):
        check_model_config({"latent_dim": 10**12}, "x")
    check_model_config({"latent_dim": 16, "steps": 10**12}, "x")  # only widths are capped


def test_train_config_absurd_latent_dim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"latent_dim": 10**12}))
    argv = ["train", "vae", "--dataset", "digits", "--steps", "1", "--config", str(cfg)]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    line = _err(capsys)
    assert "--config" in line and "latent_dim" in line
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- devices and sizes


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_gpu(saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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


def test_sample_huge_n(saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.safetensors"
    assert main(["sample", str(saved), "-n", "100000000", "--save", str(out)]) == 2
    line = _err(capsys)
    assert "-n 100000000 would need 25.6 GB for the samples" in line and "smaller -n" in line
    assert not out.exists()


def test_check_allocation_limit() -> None:
    check_allocation("-n 10", 10 * 64 * 4)
    with pytest.raises(UsageError, match=r"--x 1 would need 1\.0 PB for y, more than the limit"):
        check_allocation("--x 1", 10**15, purpose="for y")


# --------------------------------------------------------------------------- use-case commands


def _table(tmp_path: Path, rows: int = 120) -> Path:
    """A small mixed CSV (two numeric columns, one categorical) for the synth commands."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.integers(0, 5, rows), "c": rng.choice(["x", "y"], rows)}
    )
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path


def test_synth_fit_out_checked_before_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aigc_synth.synthesizer import Synthesizer

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fit started before --out was checked")

    monkeypatch.setattr(Synthesizer, "fit", no_fit)
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["synth", "fit", str(_table(tmp_path)), "--out", str(taken), "--epochs", "1"]) == 2
    line = _err(capsys)
    assert line.startswith("aigc synth fit: error: --out") and "not a directory" in line
    ro = _unwritable_dir(tmp_path)
    assert main(["synth", "fit", str(_table(tmp_path)), "--out", str(ro / "m"), "--epochs", "1"]) == 2
    assert "cannot write" in _err(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["anomaly", "fit", "DATA"], id="anomaly"),
        pytest.param(["recommend", "fit", "DATA"], id="recommend"),
        pytest.param(["augment", "generate", "digits", "--per-class", "1"], id="augment"),
    ],
)
def test_use_case_out_checked_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    data = tmp_path / "none.csv"  # never read: --out fails first
    assert main([str(data) if a == "DATA" else a for a in argv] + ["--out", str(taken)]) == 2
    line = _err(capsys)
    assert "--out" in line and "not a directory" in line


def test_synth_sample_huge_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m"
    fit = ["synth", "fit", str(_table(tmp_path)), "--out", str(model), "--epochs", "1", "--threads", "1"]
    assert main([*fit, "--option", "hidden=[16]"]) == 0
    capsys.readouterr()
    out = tmp_path / "rows.csv"
    assert main(["synth", "sample", str(model), "-n", "1000000000", "--out", str(out)]) == 2
    line = _err(capsys)
    assert "-n 1000000000 would need" in line and "smaller -n" in line and "rare" not in line
    assert not out.exists()


def test_synth_sample_many_rows_without_conditions_finishes(tmp_path: Path) -> None:
    import pandas as pd

    from aigc_synth.synthesizer import Synthesizer

    synth = Synthesizer("tvae", epochs=1, hidden=[8], num_threads=1)
    synth.fit(pd.read_csv(_table(tmp_path)))
    synth.max_batch = 64  # n = 500 takes 8 batches; max_rounds only limits batches with rejections
    rows = synth.sample(500, max_rounds=2)
    assert len(rows) == 500


def test_synth_fit_million_categories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 1_000_000
    path = tmp_path / "ids.csv"
    path.write_text("id,v\n" + "".join(f"u{i},{i % 7}\n" for i in range(n)))
    code = main(
        ["synth", "fit", str(path), "--out", str(tmp_path / "m"), "--discrete", "id", "--epochs", "1"]
    )
    assert code == 2
    line = _err(capsys)
    assert "categorical column 'id' alone has 1000000 categories" in line and "would need" in line
    assert not (tmp_path / "m").exists()


def test_recommend_fit_huge_dense_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 300_000
    path = tmp_path / "inter.csv"
    path.write_text("user_id,item_id\n" + "".join(f"{i},{i}\n" for i in range(n)))
    assert main(["recommend", "fit", str(path), "--out", str(tmp_path / "m"), "--epochs", "1"]) == 2
    line = _err(capsys)
    assert "300000 users x 300000 items would need 360.0 GB" in line and "interaction matrix" in line


def test_anomaly_fit_near_1e300(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    x[:, 0] *= 1e300
    data = tmp_path / "big.npy"
    np.save(data, x)
    model = tmp_path / "det"
    assert (
        main(["anomaly", "fit", str(data), "--out", str(model), "--epochs", "2", "--contamination", "0.1"])
        == 0
    )
    scores = tmp_path / "s.csv"
    assert main(["anomaly", "score", str(model), str(data), "--out", str(scores)]) == 0
    flags = np.loadtxt(scores, delimiter=",", skiprows=1)[:, 1]
    assert np.isfinite(np.loadtxt(scores, delimiter=",", skiprows=1)[:, 0]).all()
    assert flags.mean() < 0.5  # was: every row flagged (the overflowed scale made all scores NaN)


def test_anomaly_scaling_overflow_names_column() -> None:
    import numpy as np

    from aigc_anomaly.preprocessing import Preprocessor

    big = np.where(np.arange(50) % 2 == 0, -1.7e308, 1.7e308)  # its spread overflows float64
    x = np.stack([big, np.linspace(0, 1, 50)], axis=1)
    with pytest.raises(ValueError, match=r"columns \[0\]"):
        Preprocessor(scaling="robust").fit(x)


def test_complex_npy_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    data = tmp_path / "c.npy"
    np.save(data, np.ones((10, 3), dtype=np.complex64))
    assert main(["anomaly", "fit", str(data), "--out", str(tmp_path / "m")]) == 2
    line = _err(capsys)
    assert str(data) in line and "complex64" in line
    with pytest.raises(UsageError, match="complex64"):
        aigc_sdk.load_dataset("arrays", path=str(data))


def test_broken_image_in_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "a").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "a" / "ok.png")
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(CorruptFileError, match=r"broken\.png.*cannot be read"):
        aigc_sdk.load_dataset("image-folder", root=str(tmp_path))
    assert exit_code_for(CorruptFileError("x")) == 1


def test_eval_and_demo_outputs_checked_up_front(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(saved), "--dataset", "digits", "--n", "8", "--json", str(tmp_path)]) == 2
    line = _err(capsys)
    assert "--json" in line and "is a directory" in line
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["demo", "--quick", "--out", str(taken)]) == 2
    line = _err(capsys)
    assert "--out" in line and "not a directory" in line


def test_eval_corrupt_weights_is_a_runtime_error(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / WEIGHTS_FILE).write_bytes(b"\x00" * 3)
    assert main(["eval", str(copy), "--dataset", "digits", "--n", "8", "--metrics", "prc"]) == 1
    assert "is corrupt or truncated" in _err(capsys)
