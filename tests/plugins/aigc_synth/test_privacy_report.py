"""The privacy report (aigc_synth.privacy_report): DCR against a baseline, exact copies, rare categories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aigc_synth.privacy_report import privacy_report
from aigc_synth.synthesizer import Synthesizer
from tests.plugins.aigc_synth._data import make_frame

FIELDS = {
    "rows_train",
    "rows_synthetic",
    "rows_holdout",
    "reference_rows",
    "synthetic_rows_scored",
    "baseline",
    "baseline_rows_scored",
    "dcr_synthetic_median",
    "dcr_synthetic_p05",
    "dcr_baseline_median",
    "dcr_baseline_p05",
    "dcr_ratio_median",
    "exact_copies",
    "exact_copy_rate",
    "rare_categories",
    "rare_categories_reproduced",
    "rare_category_share",
    "ignored_columns",
    "distance",
}


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    """make_frame plus a date column, an identifier and a column with rare categories."""
    df = make_frame(300)
    rng = np.random.default_rng(3)
    df["opened"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, len(df)), unit="D")
    df["user_id"] = [f"u{v:08d}" for v in rng.choice(10**8, len(df), replace=False)]
    df["town"] = ["rare1", "rare2", "rare2", *rng.choice(["big", "small"], len(df) - 3)]
    return df


def test_copying_synthesizer_has_zero_dcr_and_all_exact_copies(train: pd.DataFrame) -> None:
    rep = privacy_report(train, train.copy())
    assert set(rep) == FIELDS
    assert rep["dcr_synthetic_median"] == 0.0 and rep["dcr_synthetic_p05"] == 0.0
    assert rep["dcr_baseline_median"] > 0.1 and rep["baseline"] == "train_leave_one_out"
    assert rep["dcr_ratio_median"] == 0.0
    assert rep["exact_copies"] == len(train) and rep["exact_copy_rate"] == 1.0
    assert rep["rare_categories"] == 2 and rep["rare_category_share"] == 1.0  # rare1, rare2
    assert rep["ignored_columns"] == ["user_id"]  # detected, so fresh IDs do not hide copies
    # copies are found whatever the identifiers and the dtypes (ints read back as floats)
    shuffled = train.sample(frac=1, random_state=0).assign(user_id="x", age=lambda d: d["age"].astype(float))
    assert privacy_report(train, shuffled, id_columns=["user_id"])["exact_copies"] == len(train)
    json.dumps(rep, allow_nan=False)


def test_synthetic_rows_against_a_holdout(train: pd.DataFrame) -> None:
    holdout = make_frame(150, seed=9).assign(
        opened=train["opened"].iloc[:150].to_numpy(), user_id="h", town="big"
    )
    synth = Synthesizer("tvae", epochs=10, batch_size=100, hidden=[32], latent_dim=8, seed=0)
    with pytest.warns(UserWarning, match="user_id"):
        synth.fit(train, target="Status")
    fitted = synth.report()["fit"]["privacy_report"]
    assert set(fitted) == FIELDS | {"sampled_rows"} and fitted["sampled_rows"] == len(train)
    assert fitted["baseline"] == "train_leave_one_out" and fitted["dcr_synthetic_median"] > 0
    rows = synth.sample(300, seed=2)
    rep = privacy_report(train, rows, holdout, max_rows=200, seed=1)
    assert rep["baseline"] == "holdout" and rep["rows_holdout"] == 150
    assert rep["reference_rows"] == 200 and rep["synthetic_rows_scored"] == 200  # subsampled
    assert rep["baseline_rows_scored"] == 150
    assert 0 < rep["dcr_synthetic_p05"] <= rep["dcr_synthetic_median"]
    assert rep["exact_copies"] < 30 and 0 <= rep["rare_categories_reproduced"] <= 2
    assert not set(rows["user_id"]) & set(train["user_id"])


def test_evaluate_and_markdown_carry_the_privacy_report(train: pd.DataFrame) -> None:
    pytest.importorskip("aigc_metrics.tabular")
    from aigc_synth.evaluation import to_markdown

    synth = Synthesizer("tvae", epochs=2, batch_size=100, hidden=[16], latent_dim=4, privacy_rows=100)
    with pytest.warns(UserWarning):
        synth.fit(train, target="Status")
    holdout = train.iloc[:80]
    ev = synth.evaluate(holdout, train=train, n=120)
    assert ev["privacy_report"]["baseline"] == "holdout" and ev["privacy_report"]["rows_synthetic"] == 120
    assert synth.report()["fit"]["privacy_report"]["rows_synthetic"] == 100
    md = to_markdown(synth.report())
    assert "## Privacy report (fresh sample after the fit)" in md and "| DCR median |" in md
    assert "real holdout as baseline" in md and "## Notes" in md and "'user_id'" in md


def test_privacy_report_input_errors(train: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="synthetic must be a pandas DataFrame"):
        privacy_report(train, train.to_numpy())
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['age'\]"):
        privacy_report(train, train.drop(columns="age"))
    with pytest.raises(ValueError, match="at least 2 rows"):
        privacy_report(train.iloc[:1], train)
    with pytest.raises(ValueError, match="max_rows"):
        privacy_report(train, train, max_rows=1)
    synth = Synthesizer("tvae", epochs=1, privacy_rows=0)
    synth.fit(make_frame(100), target="Status")
    assert "privacy_report" not in synth.report()["fit"]
    with pytest.raises(ValueError, match="privacy_rows"):
        Synthesizer("tvae", privacy_rows=1)


def test_cli_privacy_command(train: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    import aigc_synth

    parser = argparse.ArgumentParser(prog="aigc")
    aigc_synth.register_commands(subparsers=parser.add_subparsers(dest="command"))
    paths = {k: tmp_path / f"{k}.csv" for k in ("train", "synthetic", "holdout")}
    train.iloc[:200].to_csv(paths["train"], index=False)
    train.iloc[:100].to_csv(paths["synthetic"], index=False)  # half of the training rows, copied
    train.iloc[200:].to_csv(paths["holdout"], index=False)
    out = tmp_path / "privacy.json"
    argv = [
        "synth",
        "privacy",
        str(paths["train"]),
        str(paths["synthetic"]),
        "--holdout",
        str(paths["holdout"]),
    ]
    args = parser.parse_args([*argv, "--out", str(out)])
    assert args.func(args) == 0
    assert "privacy: DCR median 0 (holdout baseline" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    assert (
        rep["exact_copies"] == 100 and rep["baseline"] == "holdout" and rep["ignored_columns"] == ["user_id"]
    )
