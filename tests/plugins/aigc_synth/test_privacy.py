"""Differentially-private tvae: per-row clipping, noisy encoding, accounting, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("opacus")

from aigc_synth.networks import BlockLayout, TabularVAE
from aigc_synth.privacy import clipped_gradient_sum
from aigc_synth.synthesizer import Synthesizer
from aigc_synth.transformer import TableTransformer

SCHEMA: dict[str, dict[str, Any]] = {
    "age": {"min": 18, "max": 80, "integer": True},
    "income": {"min": 0, "max": 200, "nullable": True, "decimals": 2},
    "group": {"categories": ["a", "b", "c"]},
    "city": {"categories": ["north", "south", None]},
    "term": {"categories": [12, 24, 36]},
    "Status": {"categories": ["bad", "good"]},
}
FAST = {"epochs": 3, "batch_size": 100, "hidden": [32, 32], "latent_dim": 4}


@pytest.fixture(scope="module")
def private_tvae(frame: pd.DataFrame) -> Synthesizer:
    """A tvae fitted with (3, delta)-DP on the test frame."""
    return Synthesizer("tvae", seed=0, dp_epsilon=3.0, **FAST).fit(frame, target="Status", schema=SCHEMA)


@pytest.mark.parametrize("cond", [0, 2])
def test_clipped_sum_matches_a_per_row_loop(frame: pd.DataFrame, cond: int) -> None:
    t = TableTransformer().fit_private(frame, SCHEMA, epsilon=1.0)
    x = torch.from_numpy(t.transform(frame))[:12]
    c = x[:, :cond]  # any columns will do as a condition
    torch.manual_seed(0)
    net = TabularVAE(x.shape[1], cond, [16, 8], 3)
    with torch.no_grad():
        net.log_sigma.uniform_(-1.5, 0.5)
    layout = BlockLayout(t.blocks)
    eps = torch.randn(len(x), 3)
    per_row = []
    for i in range(len(x)):  # the definition: one backward pass per row
        net.zero_grad()
        net.loss(x[i : i + 1], c[i : i + 1], layout, 0.7, eps=eps[i : i + 1])[0].backward()
        per_row.append({k: p.grad.clone() for k, p in net.named_parameters()})
    norms = torch.stack([torch.sqrt(sum(g.pow(2).sum() for g in r.values())) for r in per_row])
    clip = float(norms.median())  # half the rows are clipped, half are not
    expected = {
        k: sum(r[k] * min(1.0, clip / (float(nm) + 1e-6)) for r, nm in zip(per_row, norms))
        for k in per_row[0]
    }
    got = clipped_gradient_sum(net, x, c, eps, layout, 0.7, clip)
    assert got.keys() == expected.keys()
    for k in got:
        torch.testing.assert_close(got[k], expected[k], rtol=1e-4, atol=1e-6)


def test_histogram_encoding_round_trip(frame: pd.DataFrame) -> None:
    t = TableTransformer().fit_private(frame, SCHEMA, epsilon=2.0, seed=1)
    back = t.inverse_transform(t.transform(frame))
    np.testing.assert_array_equal(back["age"], frame["age"])  # integers: exact
    pd.testing.assert_series_equal(back["income"], frame["income"], check_exact=False, atol=0.011)
    for col in ("group", "city", "term", "Status"):
        assert back[col].tolist() == frame[col].tolist() or back[col].equals(frame[col])
    # values outside the public bounds are clipped to them
    wide = frame.assign(age=frame["age"].where(frame.index > 0, 500))
    assert t.inverse_transform(t.transform(wide))["age"].iloc[0] == 80


def test_noisy_counts_follow_epsilon(frame: pd.DataFrame) -> None:
    def counts(eps: float, seed: int) -> np.ndarray:
        spec = TableTransformer().fit_private(frame, SCHEMA, epsilon=eps, seed=seed).spec("group")
        return np.array(spec["frequencies"]) - 1.0

    true = frame["group"].value_counts().reindex(["a", "b", "c"]).to_numpy()
    assert np.abs(counts(1e6, 0) - true).max() < 0.01  # almost no noise
    errors = [np.abs(counts(0.5, s) - true).mean() for s in range(20)]
    # Laplace scale = 6 columns / 0.5 = 12, so the mean absolute error is about 12
    assert 6 < np.mean(errors) < 20


def test_private_fit_reports_epsilon_and_samples_within_schema(private_tvae: Synthesizer) -> None:
    privacy = private_tvae.report()["fit"]["privacy"]
    assert 2.7 <= privacy["epsilon_total"] <= 3.0 * 1.02
    assert privacy["epsilon_schema"] == pytest.approx(0.3)
    assert privacy["delta"] == pytest.approx(min(1e-5, 0.1 / 400))
    assert privacy["noise_multiplier"] > 0.5 and privacy["steps"] == 12
    assert private_tvae.report()["fit"]["final_losses"] == {}
    from aigc_synth.evaluation import to_markdown

    md = to_markdown(private_tvae.report())
    assert f"differential privacy: epsilon {privacy['epsilon_total']:.3f}" in md
    out = private_tvae.sample(300, seed=3)
    assert out["age"].between(18, 80).all() and (out["age"] == out["age"].round()).all()
    assert out["income"].dropna().between(0, 200).all()
    assert set(out["group"]) <= {"a", "b", "c"} and set(out["term"]) <= {12, 24, 36}
    assert set(out["Status"]) <= {"bad", "good"}
    assert (private_tvae.sample(50, conditions={"Status": "bad"})["Status"] == "bad").all()


def test_more_epsilon_means_less_noise(frame: pd.DataFrame) -> None:
    sigmas = [
        Synthesizer("tvae", dp_epsilon=eps, **{**FAST, "epochs": 1})
        .fit(frame, schema=SCHEMA)
        .fit_info["privacy"]["noise_multiplier"]
        for eps in (0.5, 8.0)
    ]
    assert sigmas[0] > 3 * sigmas[1]


def test_private_fit_is_reproducible_and_round_trips(
    private_tvae: Synthesizer, frame: pd.DataFrame, tmp_path: Path
) -> None:
    again = Synthesizer("tvae", seed=0, dp_epsilon=3.0, **FAST).fit(frame, target="Status", schema=SCHEMA)
    pd.testing.assert_frame_equal(again.sample(100, seed=1), private_tvae.sample(100, seed=1))
    private_tvae.save(tmp_path / "dp")
    loaded = Synthesizer.load(tmp_path / "dp")
    pd.testing.assert_frame_equal(loaded.sample(100, seed=1), private_tvae.sample(100, seed=1))
    assert loaded.report()["fit"]["privacy"] == private_tvae.report()["fit"]["privacy"]


def test_bad_private_input(frame: pd.DataFrame) -> None:
    dp = Synthesizer("tvae", dp_epsilon=1.0, **FAST)
    with pytest.raises(ValueError, match="schema is required"):
        dp.fit(frame)
    with pytest.raises(ValueError, match=r"missing \['Status'\]"):
        dp.fit(frame, schema={k: v for k, v in SCHEMA.items() if k != "Status"})
    with pytest.raises(ValueError, match="min < max"):
        dp.fit(frame, schema={**SCHEMA, "age": {"min": 80, "max": 18}})
    with pytest.raises(ValueError, match="missing from schema"):
        dp.fit(frame, schema={**SCHEMA, "group": {"categories": ["a", "b"]}})
    with pytest.raises(ValueError, match="not nullable"):
        dp.fit(frame, schema={**SCHEMA, "income": {"min": 0, "max": 200}})
    with pytest.raises(ValueError, match="is not numeric"):
        dp.fit(frame, schema={**SCHEMA, "group": {"min": 0, "max": 1}})
    with pytest.raises(ValueError, match="disagree"):
        dp.fit(frame, discrete_columns=["group"], schema=SCHEMA)
    with pytest.raises(ValueError, match="too little for 12 steps"):
        Synthesizer("tvae", dp_epsilon=1e-3, **FAST).fit(frame, schema=SCHEMA)
    with pytest.raises(ValueError, match="only used with differential privacy"):
        Synthesizer("tvae", **FAST).fit(frame, schema=SCHEMA)
    for bad in (
        {"dp_epsilon": 0.0},
        {"dp_epsilon": 1.0, "dp_delta": 1.5},
        {"dp_epsilon": 1.0, "dp_max_grad_norm": 0},
    ):
        with pytest.raises(ValueError, match=next(iter(k for k in bad if k != "dp_epsilon"), "dp_epsilon")):
            Synthesizer("tvae", **bad)
    with pytest.raises(ValueError, match="latent_prior"):
        Synthesizer("tvae", dp_epsilon=1.0, latent_prior="gmm")
    with pytest.raises(ValueError, match="unknown option"):
        Synthesizer("ctgan", dp_epsilon=1.0)


def test_cli_private_fit(frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aigc_sdk.cli import main

    data, schema, model = tmp_path / "train.csv", tmp_path / "schema.json", tmp_path / "model"
    frame.to_csv(data, index=False)
    schema.write_text(json.dumps(SCHEMA))
    args = ["synth", "fit", str(data), "--out", str(model), "--target", "Status", "--epochs", "2"]
    assert main([*args, "--dp-epsilon", "2", "--schema", str(schema), "--option", "hidden=[16]"]) == 0
    assert "differential privacy: epsilon" in capsys.readouterr().out
    privacy = json.loads((model / "config.json").read_text())["fit"]["privacy"]
    assert privacy["epsilon_total"] <= 2.0 * 1.02
    assert main([*args, "--dp-epsilon", "2"]) != 0
    assert "schema is required with dp_epsilon" in capsys.readouterr().err
