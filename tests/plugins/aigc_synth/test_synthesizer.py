"""Synthesizer behaviour: validity of samples, conditions, determinism, persistence, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from aigc_synth.synthesizer import Synthesizer
from tests.plugins.aigc_synth._data import make_frame

KINDS = ["fitted_tvae", "fitted_ctgan"]


@pytest.mark.parametrize("fixture", KINDS)
def test_samples_are_valid(fixture: str, frame: pd.DataFrame, request: pytest.FixtureRequest) -> None:
    synth = request.getfixturevalue(fixture)
    out = synth.sample(500, seed=3)
    assert list(out.columns) == list(frame.columns) and len(out) == 500
    for col in ("group", "Status", "term"):  # categories (and integer levels) never invented
        assert set(out[col].dropna()) <= set(frame[col].dropna())
    assert set(out["city"].dropna()) <= {"north", "south"}
    assert out["age"].dtype == np.int64
    assert out["age"].between(frame["age"].min(), frame["age"].max()).all()
    inc = out["income"].dropna()
    assert (inc >= 0).all() and (inc <= frame["income"].max()).all()
    np.testing.assert_array_equal(inc, inc.round(2))  # no more decimals than the training values
    assert np.all(np.floor(out["term"]) == out["term"])


def test_missing_values_are_reproduced(fitted_tvae: Synthesizer) -> None:
    out = fitted_tvae.sample(2000, seed=0)
    assert 0.02 < out["income"].isna().mean() < 0.3
    assert out["city"].isna().any()


@pytest.mark.parametrize("fixture", KINDS)
def test_conditions_respected(fixture: str, request: pytest.FixtureRequest) -> None:
    synth = request.getfixturevalue(fixture)
    out = synth.sample(200, conditions={"Status": "bad"}, seed=1)
    assert len(out) == 200 and (out["Status"] == "bad").all()
    out = synth.sample(50, conditions={"group": "c", "Status": "good"}, seed=1)
    assert len(out) == 50 and (out["group"] == "c").all() and (out["Status"] == "good").all()


def test_target_balance_follows_training(fitted_tvae: Synthesizer, frame: pd.DataFrame) -> None:
    out = fitted_tvae.sample(4000, seed=0)
    assert abs((out["Status"] == "bad").mean() - (frame["Status"] == "bad").mean()) < 0.04


@pytest.mark.parametrize(
    ("kind", "encoding"), [("tvae", "quantile"), ("ctgan", "mode"), ("ctgan", "quantile")]
)
def test_fit_and_sample_are_bitwise_reproducible(kind: str, encoding: str, frame: pd.DataFrame) -> None:
    opts = {"epochs": 2, "batch_size": 100, "hidden": [32], "latent_dim": 8, "numeric_encoding": encoding}
    a = Synthesizer(kind, seed=7, **opts).fit(frame, target="Status")
    b = Synthesizer(kind, seed=7, **opts).fit(frame, target="Status")
    for (ka, va), (kb, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    pd.testing.assert_frame_equal(a.sample(300, seed=5), b.sample(300, seed=5))
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    pd.testing.assert_frame_equal(a.sample(100, generator=g1), b.sample(100, generator=g2))
    assert not a.sample(300, seed=5).equals(a.sample(300, seed=6))


@pytest.mark.parametrize("fixture", KINDS)
def test_save_load_round_trip(fixture: str, tmp_path, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    synth = request.getfixturevalue(fixture)
    synth.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = Synthesizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(synth.sample(200, seed=2), loaded.sample(200, seed=2))
    pd.testing.assert_frame_equal(
        synth.sample(20, conditions={"Status": "bad"}, seed=2),
        loaded.sample(20, conditions={"Status": "bad"}, seed=2),
    )
    assert loaded.report()["fit"] == synth.report()["fit"]


def test_gmm_latent_prior_round_trip(frame: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    synth = Synthesizer(
        "tvae", epochs=3, batch_size=100, hidden=[32], latent_dim=4, latent_prior="gmm", prior_components=3
    ).fit(frame)
    synth.save(tmp_path)
    pd.testing.assert_frame_equal(synth.sample(50, seed=1), Synthesizer.load(tmp_path).sample(50, seed=1))


def test_report_is_json(fitted_tvae: Synthesizer) -> None:
    import json

    rep = fitted_tvae.report()
    assert rep["kind"] == "tvae" and rep["fit"]["rows"] == 400 and rep["fit"]["target"] == "Status"
    json.dumps(rep, allow_nan=False)


def test_evaluate_adds_metrics(fitted_tvae: Synthesizer, frame: pd.DataFrame) -> None:
    pytest.importorskip("aigc_metrics.tabular")
    from aigc_synth.evaluation import to_markdown

    ev = fitted_tvae.evaluate(make_frame(200, seed=1), train=frame, n=300)
    assert 0 <= ev["quality"]["quality"] <= 1 and 0 <= ev["detection"]["detection"] <= 1
    assert set(ev["utility"]) == {"tstr_auc", "trtr_auc", "augmented_auc", "augmentation_lift"}
    assert ev["privacy"]["dcr_median"] >= 0
    rep = fitted_tvae.report()
    assert rep["evaluation"] == ev
    assert "| quality |" in to_markdown(rep)


def test_bad_input(frame: pd.DataFrame, fitted_tvae: Synthesizer) -> None:
    s = Synthesizer("tvae", epochs=1)
    with pytest.raises(ValueError, match="empty"):
        s.fit(frame.iloc[:0])
    with pytest.raises(ValueError, match="empty"):
        s.fit(pd.DataFrame(index=range(3)))
    with pytest.raises(ValueError, match="DataFrame"):
        s.fit(frame.to_numpy())
    with pytest.raises(ValueError, match="unknown discrete column"):
        s.fit(frame, discrete_columns=["nope"])
    with pytest.raises(ValueError, match="unknown target"):
        s.fit(frame, target="nope")
    with pytest.raises(ValueError, match="only missing"):
        s.fit(frame.assign(empty=np.nan))
    with pytest.raises(ValueError, match="not numeric"):
        s.fit(frame, discrete_columns=["Status"])
    with pytest.raises(ValueError, match="kind"):
        Synthesizer("gan")
    with pytest.raises(ValueError, match="unknown option"):
        Synthesizer("tvae", pac=10)
    with pytest.raises(ValueError, match="epochs"):
        Synthesizer("tvae", epochs=0)
    with pytest.raises(RuntimeError, match="fit"):
        s.sample(10)
    for n in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive int"):
            fitted_tvae.sample(n)
    with pytest.raises(ValueError, match="never seen"):
        fitted_tvae.sample(10, conditions={"Status": "maybe"})
    with pytest.raises(ValueError, match="unknown column"):
        fitted_tvae.sample(10, conditions={"nope": "a"})
    with pytest.raises(ValueError, match="categorical columns only"):
        fitted_tvae.sample(10, conditions={"age": 40})


def test_load_rejects_missing_or_foreign(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError):
        Synthesizer.load(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "other"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="format"):
        Synthesizer.load(tmp_path)


@pytest.mark.parametrize("kind", ["tvae", "ctgan"])
def test_all_numeric_and_all_categorical_tables(kind: str, frame: pd.DataFrame) -> None:
    opts = {"epochs": 1, "batch_size": 100, "hidden": [16], "latent_dim": 4}
    for cols in (["age", "income", "term"], ["group", "city", "Status"]):
        out = Synthesizer(kind, **opts).fit(frame[cols]).sample(30)
        assert list(out.columns) == cols and len(out) == 30
