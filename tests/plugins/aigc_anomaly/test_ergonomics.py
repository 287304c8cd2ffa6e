"""Detector ergonomics: ``num_threads`` / ``--threads``, label and ID columns kept out of the
features, and scoring errors that name the mismatching columns. Small tables, few epochs."""

from __future__ import annotations

import argparse
import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from aigc_anomaly.cli import add_parser
from aigc_anomaly.columns import ExcludedColumnsWarning
from aigc_anomaly.detector import Detector
from aigc_sdk.errors import UsageError
from tests.plugins.aigc_anomaly.test_detector import cluster_with_outliers

pd = pytest.importorskip("pandas")

FAST = {"epochs": 2, "hidden": (8,), "latent_dim": 2, "batch_size": 128}
FEATURES = ["f0", "f1", "f2", "f3"]


def make_table(n: int = 300, n_out: int = 15) -> tuple[Any, np.ndarray]:
    """Four feature columns, then the usual suspects: a saved index, an ID, a 0/1 label."""
    x, y = cluster_with_outliers(n=n, n_out=n_out, d=len(FEATURES))
    df = pd.DataFrame(x, columns=FEATURES)
    rng = np.random.default_rng(1)
    df.insert(0, "Unnamed: 0", np.arange(len(df)))
    df["txn_id"] = rng.permutation(len(df)) + 10_000
    df["is_fraud"] = y
    return df, y


@pytest.fixture(scope="module")
def table() -> tuple[Any, np.ndarray]:
    return make_table()


@pytest.fixture(scope="module")
def fitted(table: tuple[Any, np.ndarray]) -> Detector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExcludedColumnsWarning)
        return Detector(**FAST).fit(table[0])


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """A block in which any warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------ threads
def test_fit_and_score_threads_set_for_the_call_and_restored(table, monkeypatch) -> None:
    df, _ = table
    assert torch.get_num_threads() == 1  # conftest
    det = Detector(**FAST).fit(df[FEATURES], num_threads=2)
    assert det.report()["torch_threads"] == 2  # measured inside the fit
    assert torch.get_num_threads() == 1
    seen: list[int] = []
    features = det._features
    monkeypatch.setattr(det, "_features", lambda x: (seen.append(torch.get_num_threads()), features(x))[1])
    det.score(df[FEATURES], num_threads=2)
    det.predict(df[FEATURES], num_threads=2)
    det.evaluate(df[FEATURES], df["is_fraud"], num_threads=2)
    assert seen == [2, 2, 2] and torch.get_num_threads() == 1
    det.score(df[FEATURES])  # None leaves the setting alone
    assert seen[-1] == 1


def test_threads_restored_when_the_fit_fails() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        Detector(**FAST).fit(np.ones((5, 3)), num_threads=2)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_num_threads_is_named(bad: Any, fitted: Detector, table) -> None:
    with pytest.raises(ValueError, match="num_threads"):
        Detector(**FAST).fit(table[0][FEATURES], num_threads=bad)
    with pytest.raises(ValueError, match="num_threads"):
        fitted.score(table[0], num_threads=bad)
    assert torch.get_num_threads() == 1


# ------------------------------------------------------------------ label / ID columns
def test_label_and_id_columns_are_excluded_with_a_warning(table, fitted: Detector) -> None:
    df, _ = table
    with pytest.warns(ExcludedColumnsWarning) as record:
        det = Detector(**FAST).fit(df)
    message = str(record[0].message)
    for name in ("Unnamed: 0", "txn_id", "is_fraud"):
        assert repr(name) in message
    assert record[0].message.reasons == {  # type: ignore[union-attr]
        "Unnamed: 0": "ID: saved pandas index",
        "txn_id": "ID: ID-like name",
        "is_fraud": "label: label-like name, binary",
    }
    rep = det.report()
    assert rep["n_features"] == 4
    assert rep["columns"]["features"] == FEATURES
    assert rep["columns"]["label"] == "is_fraud"
    assert rep["columns"]["ids"] == ["Unnamed: 0", "txn_id"]
    # the label never reached the model: same seed and features give the same scores
    plain = Detector(**FAST).fit(df[FEATURES])
    assert np.array_equal(det.score(df), plain.score(df[FEATURES]))
    ev = rep["train_evaluation"]
    assert ev["label_column"] == "is_fraud" and ev["n"] == len(df)
    assert set(ev) >= {"roc_auc", "average_precision", "anomaly_rate"}  # the keys of "evaluation"
    assert ev["roc_auc"] > 0.9
    assert det.evaluate(df) == det.evaluate(df[FEATURES], df["is_fraud"])  # label found at fit


def test_value_based_id_and_lookalikes_that_stay_features() -> None:
    x, y = cluster_with_outliers(n=200, n_out=10, d=3)
    rng = np.random.default_rng(2)
    df = pd.DataFrame(x, columns=["a", "b", "c"])
    df["row"] = rng.permutation(len(df)) + 1  # unique consecutive integers: a row number
    df["count"] = rng.integers(0, 50, len(df))  # integers with repeats: a feature
    df["y"] = rng.normal(size=len(df))  # label-like name but continuous: a coordinate
    df["Class"] = y
    with pytest.warns(ExcludedColumnsWarning, match="'row'"):
        det = Detector(**FAST).fit(df)
    cols = det.report()["columns"]
    assert cols["features"] == ["a", "b", "c", "count", "y"]
    assert cols["ids"] == ["row"] and cols["label"] == "Class"


def test_explicit_declarations(table) -> None:
    df, _ = table
    renamed = df.rename(columns={"is_fraud": "status", "txn_id": "acct", "Unnamed: 0": "pos"})
    renamed["note"] = 7.0
    with strict():  # declared columns are not warned about
        det = Detector(**FAST).fit(renamed, label_column="status", id_columns=["acct", "pos"], exclude="note")
    cols = det.report()["columns"]
    assert cols["features"] == FEATURES and cols["auto_excluded"] == {}
    assert cols["excluded"] == ["pos", "acct", "status", "note"]  # in table order
    assert cols["label"] == "status" and cols["ids"] == ["pos", "acct"]
    assert det.report()["train_evaluation"]["label_column"] == "status"
    # declaring some columns still checks the others: "pos" is found as a row number
    with pytest.warns(ExcludedColumnsWarning, match="'pos' \\(ID: unique consecutive integers\\)"):
        det = Detector(**FAST).fit(renamed, label_column="status", id_columns="acct", exclude=["note"])
    assert det.report()["columns"]["features"] == FEATURES
    with strict():  # detect_columns=False: only what is declared is left out
        det = Detector(**FAST).fit(df, label_column="is_fraud", detect_columns=False)
    assert det.report()["columns"]["features"] == ["Unnamed: 0", *FEATURES, "txn_id"]
    with pytest.raises(ValueError, match=r"id_columns \['nope'\]"):
        Detector(**FAST).fit(df, id_columns="nope")
    with pytest.raises(ValueError, match="label_column"):
        Detector(**FAST).fit(df, label_column="missing")
    with pytest.raises(ValueError, match="DataFrame"):
        Detector(**FAST).fit(df[FEATURES].to_numpy(), exclude=["f0"])
    with pytest.raises(ValueError, match="no feature columns left"):
        Detector(**FAST).fit(df, exclude=FEATURES)


def test_multiclass_label_is_excluded_without_metrics(table) -> None:
    df, _ = table
    df = df.assign(target=np.arange(len(df)) % 5)
    with pytest.warns(ExcludedColumnsWarning, match="5 classes"):
        det = Detector(**FAST).fit(df, label_column="is_fraud")
    assert "target" in det.report()["columns"]["excluded"]
    assert det.report()["train_evaluation"]["label_column"] == "is_fraud"
    with pytest.warns(ExcludedColumnsWarning):
        det = Detector(**FAST).fit(df.drop(columns=["is_fraud"]))
    assert det.report()["columns"]["label"] == "target" and "train_evaluation" not in det.report()


def test_excluded_columns_are_saved_and_dropped_when_scoring(tmp_path, fitted: Detector, table) -> None:
    df, _ = table
    fitted.save(tmp_path / "det")
    meta = json.loads((tmp_path / "det" / "config.json").read_text())
    assert meta["columns"] == {
        "label": "is_fraud",
        "ids": ["Unnamed: 0", "txn_id"],
        "excluded": ["Unnamed: 0", "txn_id", "is_fraud"],
    }
    loaded = Detector.load(tmp_path / "det")
    expected = fitted.score(df[FEATURES])
    assert np.array_equal(loaded.score(df), expected)  # label and IDs present: dropped
    assert np.array_equal(loaded.score(df.drop(columns=["is_fraud", "txn_id"])), expected)  # absent: fine


# ------------------------------------------------------------------ column mismatches
def test_scoring_errors_name_extra_and_missing_columns(fitted: Detector, table) -> None:
    df, _ = table
    with pytest.raises(ValueError, match=r"score: input has extra column\(s\) \['foo'\] and lacks \['f1'\]"):
        fitted.score(df.rename(columns={"f1": "foo"}))
    with pytest.raises(ValueError, match=r"extra column\(s\) \['foo'\]; the detector was fitted on columns"):
        fitted.score(df.assign(foo=1.0))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['f3'\]"):
        fitted.score(df.drop(columns=["f3"]))


def test_reordered_columns_are_reordered(fitted: Detector, table) -> None:
    df, _ = table
    expected = fitted.score(df[FEATURES])
    assert np.array_equal(fitted.score(df[FEATURES[::-1]]), expected)
    assert np.array_equal(fitted.score(df[["is_fraud", "f2", "f0", "f3", "f1"]]), expected)


def test_raw_array_width_error_names_expected_count_and_columns(fitted: Detector, table) -> None:
    df, _ = table
    with pytest.raises(ValueError, match=r"3 features per row, but the detector expects 4 \(fitted columns"):
        fitted.score(df[FEATURES[:3]].to_numpy())
    with pytest.raises(ValueError, match="left out at fit"):  # the whole table, label and IDs included
        fitted.score(df.to_numpy())
    assert np.array_equal(fitted.score(df[FEATURES].to_numpy()), fitted.score(df))  # positional


# ------------------------------------------------------------------ CLI
def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_threads_and_a_csv_with_label_and_id(tmp_path: Path, table, capsys) -> None:
    df, _ = table
    csv = tmp_path / "train.csv"
    df.drop(columns=["Unnamed: 0"]).to_csv(csv)  # to_csv writes the index: "Unnamed: 0" again
    model = tmp_path / "model"
    with strict():  # the CLI prints its own note instead of a Python warning
        assert cli(["anomaly", "fit", str(csv), "--out", str(model), "--epochs", "2", "--threads", "2"]) == 0
    assert torch.get_num_threads() == 1
    printed = capsys.readouterr()
    assert "'is_fraud' (label: label-like name, binary)" in printed.err and "--label-column" in printed.err
    assert "roc_auc" in printed.out
    rep = json.loads((model / "report.json").read_text())
    assert rep["torch_threads"] == 2 and rep["n_features"] == 4
    assert rep["columns"]["excluded"] == ["Unnamed: 0", "txn_id", "is_fraud"]
    assert rep["train_evaluation"]["roc_auc"] > 0.9

    out, report = tmp_path / "scores.csv", tmp_path / "report.json"
    argv = ["anomaly", "score", str(model), str(csv), "--out", str(out), "--threads", "1"]
    assert cli([*argv, "--report", str(report)]) == 0  # the label found at fit is used for metrics
    assert "against 'is_fraud'" in capsys.readouterr().out
    assert json.loads(report.read_text())["evaluation"]["roc_auc"] > 0.9
    assert len(out.read_text().splitlines()) == len(df) + 1

    with pytest.raises(UsageError, match="--threads"):
        cli([*argv[:-1], "0"])
    bad = tmp_path / "bad.csv"
    df.assign(extra=1.0).drop(columns=["f2"]).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"extra column\(s\) \['extra'\] and lacks \['f2'\]"):
        cli(["anomaly", "score", str(model), str(bad), "--out", str(out)])


def test_cli_declared_columns(tmp_path: Path, table) -> None:
    df, _ = table
    csv = tmp_path / "train.csv"
    df.rename(columns={"is_fraud": "status"}).to_csv(csv, index=False)
    model = tmp_path / "model"
    argv = ["anomaly", "fit", str(csv), "--out", str(model), "--epochs", "2"]
    with strict():
        cli([*argv, "--label-column", "status", "--id-column", "txn_id", "--ignore-column", "Unnamed: 0"])
    cols = json.loads((model / "report.json").read_text())["columns"]
    assert cols["features"] == FEATURES and cols["label"] == "status"
    npy = tmp_path / "x.npy"
    np.save(npy, df[FEATURES].to_numpy())
    with pytest.raises(ValueError, match="need a CSV"):
        cli(["anomaly", "fit", str(npy), "--out", str(tmp_path / "m2"), "--label-column", "y"])
