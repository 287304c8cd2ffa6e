"""Unit tests of the ``anomaly`` use-case on small synthetic data (a Gaussian cluster + outliers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aigc_anomaly
from aigc_anomaly.detector import Detector
from aigc_sdk.interfaces import UseCase
from aigc_sdk.registry import Registry

FAST = {"epochs": 4, "hidden": (16,), "latent_dim": 2, "batch_size": 128}


def cluster_with_outliers(
    seed: int = 0, n: int = 600, n_out: int = 30, d: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Correlated Gaussian inliers on a 2-D subspace plus uniform outliers."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(2, d))
    inliers = rng.normal(size=(n, 2)) @ basis + 0.05 * rng.normal(size=(n, d))
    outliers = rng.uniform(-4, 4, size=(n_out, d))
    x = np.vstack([inliers, outliers])
    y = np.r_[np.zeros(n), np.ones(n_out)].astype(np.int64)
    perm = rng.permutation(len(x))
    return x[perm], y[perm]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return cluster_with_outliers()


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, np.ndarray]) -> Detector:
    return Detector("ae", **FAST).fit(data[0])


def test_package_is_light_and_declares_api() -> None:
    assert aigc_anomaly.AIGC_SDK_API == ">=1,<2"
    src = Path(aigc_anomaly.__file__).read_text()
    assert "import torch" not in src


def test_registers_use_case_and_command_in_process() -> None:
    reg = Registry(autoload=False)
    assert reg.host.register(aigc_anomaly).status != "skipped"
    assert "anomaly" in reg.list_names("use_case")
    det = reg.create("use_case", "anomaly", kind="vae")
    assert isinstance(det, UseCase) and det.config["kind"] == "vae"
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    aigc_anomaly.register_commands(sub)
    args = parser.parse_args(["anomaly", "fit", "x.csv", "--out", "m"])
    assert callable(args.func)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_separates_outliers(kind: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    det = Detector(kind, **FAST).fit(x)
    metrics = det.evaluate(x, y)
    assert metrics["roc_auc"] > 0.95, metrics
    flags = det.predict(x)
    assert flags.dtype == np.int64 and 0 < flags.mean() < 0.2
    rep = det.report()
    json.dumps(rep)
    assert rep["evaluation"]["roc_auc"] == metrics["roc_auc"]


def test_fit_and_score_are_bitwise_reproducible(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = data
    torch.manual_seed(123)
    a = Detector("vae", seed=3, **FAST).fit(x).score(x)
    torch.manual_seed(456)  # the global RNG must not matter
    b = Detector("vae", seed=3, **FAST).fit(x).score(x)
    assert np.array_equal(a, b)
    c = Detector("vae", seed=4, **FAST).fit(x).score(x)
    assert not np.array_equal(a, c)


def test_save_load_roundtrip(tmp_path, fitted: Detector, data: tuple[np.ndarray, np.ndarray]) -> None:
    fitted.save(tmp_path / "det")
    assert sorted(p.name for p in (tmp_path / "det").iterdir()) == ["config.json", "model.safetensors"]
    loaded = Detector.load(tmp_path / "det")
    assert np.array_equal(loaded.score(data[0]), fitted.score(data[0]))
    assert np.array_equal(loaded.predict(data[0]), fitted.predict(data[0]))


def test_images_are_flattened() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0, 0.1, size=(200, 1, 4, 4)).astype(np.float32)
    imgs[:10, :, 1:3, 1:3] = 1.0  # bright-square "defects"
    det = Detector("ae", **FAST).fit(imgs)
    s = det.score(imgs)
    assert s[:10].mean() > s[10:].mean()
    with pytest.raises(ValueError, match="per-sample shape"):
        det.score(imgs.reshape(200, 16))


def test_dataframe_columns_and_nan_policies() -> None:
    pd = pytest.importorskip("pandas")
    x, _ = cluster_with_outliers(n=200, n_out=5, d=3)
    df = pd.DataFrame(x, columns=["a", "b", "c"])
    df.iloc[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Detector("ae", **FAST).fit(df)
    det = Detector("ae", nan_policy="median", **FAST).fit(df)
    assert np.isfinite(det.score(df)).all()
    with pytest.raises(ValueError, match="columns"):
        det.score(df.rename(columns={"a": "z"}))
    bad = df.assign(b=np.nan)
    with pytest.raises(ValueError, match="all-NaN"):
        Detector("ae", nan_policy="median", **FAST).fit(bad)
    with pytest.raises(ValueError, match="non-numeric"):
        Detector("ae", **FAST).fit(df.assign(c="x"))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Detector("gan"), "kind"),
        (lambda: Detector(contamination=0.0), "contamination"),
        (lambda: Detector(epochs=0), "epochs"),
        (lambda: Detector(score_space="nope"), "score_space"),
        (lambda: Detector(**FAST).fit(np.empty((0, 3))), "empty"),
        (lambda: Detector(**FAST).fit(np.ones(5)), "2-D"),
        (lambda: Detector(**FAST).fit(np.ones((5, 3))), "at least 10"),
        (lambda: Detector(**FAST).fit(np.full((20, 2), np.inf)), "infinite"),
        (lambda: Detector(**FAST).fit(np.ones((20, 2)), nonsense=1), "unknown options"),
    ],
)
def test_bad_input_raises_value_error(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_wrong_width_and_unfitted(fitted: Detector) -> None:
    with pytest.raises(ValueError, match="shape"):
        fitted.score(np.zeros((3, 5)))
    with pytest.raises(RuntimeError, match="not fitted"):
        Detector().score(np.zeros((3, 6)))


def test_cli_fit_and_score(tmp_path, data: tuple[np.ndarray, np.ndarray]) -> None:
    import argparse

    from aigc_anomaly.cli import add_parser

    x, y = data
    csv = tmp_path / "train.csv"
    header = ",".join(f"f{i}" for i in range(x.shape[1])) + ",label"
    np.savetxt(csv, np.c_[x, y], delimiter=",", header=header, comments="")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    model = tmp_path / "model"
    args = parser.parse_args(
        ["anomaly", "fit", str(csv), "--out", str(model), "--ignore-column", "label", "--epochs", "3"]
    )
    assert args.func(args) == 0
    assert (model / "report.json").is_file()
    out = tmp_path / "scores.csv"
    report = tmp_path / "report.json"
    args = parser.parse_args(
        [
            "anomaly",
            "score",
            str(model),
            str(csv),
            "--out",
            str(out),
            "--label-column",
            "label",
            "--report",
            str(report),
        ]
    )
    assert args.func(args) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "score,is_anomaly" and len(lines) == len(x) + 1
    assert json.loads(report.read_text())["evaluation"]["roc_auc"] > 0.9
