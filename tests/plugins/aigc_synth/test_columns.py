"""Real-world columns: dates and times, identifiers, label hints, unsupported types (aigc_synth.columns)."""

from __future__ import annotations

import argparse
import decimal
import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import aigc_synth
from aigc_synth.columns import ColumnPlan, label_candidates, looks_like_id_name
from aigc_synth.synthesizer import Synthesizer

# a few epochs of a tiny network: these tests check column handling, not fidelity
FAST: dict[str, Any] = {"epochs": 2, "batch_size": 100, "hidden": [16], "latent_dim": 4, "privacy_rows": 200}


def _quiet_fit(synth: Synthesizer, df: pd.DataFrame, **kwargs: Any) -> Synthesizer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return synth.fit(df, **kwargs)


@pytest.fixture(scope="module")
def timed() -> pd.DataFrame:
    """200 rows: naive and tz-aware datetime64, date and timestamp strings, a duration, with gaps."""
    rng = np.random.default_rng(0)
    n = 200
    opened = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365 * 86400, n), unit="s")
    seen = pd.date_range("2024-03-01", periods=n, freq="7h", tz="Europe/Berlin")
    df = pd.DataFrame(
        {
            "amount": rng.normal(100, 20, n).round(2),
            "opened": pd.Series(opened),
            "seen": pd.Series(seen).sample(frac=1, random_state=0).to_numpy(),
            "day": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "stamp": (
                pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")
            ).strftime("%Y-%m-%dT%H:%M:%S"),
            "wait": pd.to_timedelta(rng.integers(0, 300, n), unit="min"),
            "kind": rng.choice(["x", "y"], n),
        }
    )
    df.loc[rng.choice(n, 10, replace=False), "opened"] = pd.NaT
    df.loc[rng.choice(n, 10, replace=False), "day"] = None
    return df


@pytest.mark.parametrize("kind", ["tvae", "ctgan"])
def test_time_columns_round_trip_in_their_type_and_range(kind: str, timed: pd.DataFrame) -> None:
    opts = dict(FAST, pac=10) if kind == "ctgan" else FAST
    synth = _quiet_fit(Synthesizer(kind, **opts), timed)
    assert synth.report()["fit"]["time_columns"] == {
        "opened": {"kind": "datetime", "resolution": "second"},
        "seen": {"kind": "datetime", "resolution": "hour"},
        "day": {"kind": "date_string", "resolution": "day", "format": "%Y-%m-%d"},
        "stamp": {"kind": "date_string", "resolution": "second", "format": "%Y-%m-%dT%H:%M:%S"},
        "wait": {"kind": "timedelta", "resolution": "minute"},
    }
    out = synth.sample(400, seed=1)
    assert list(out.columns) == list(timed.columns)
    assert out["opened"].dtype == timed["opened"].dtype == np.dtype("datetime64[ns]")
    assert str(out["seen"].dtype) == str(timed["seen"].dtype) == "datetime64[ns, Europe/Berlin]"
    assert out["wait"].dtype == timed["wait"].dtype
    for col in ("opened", "seen", "wait"):
        vals = out[col].dropna()
        assert vals.between(timed[col].min(), timed[col].max()).all(), col
    assert (out["seen"].dt.minute == 0).all()  # whole hours, as in training
    assert (out["wait"].dt.seconds % 60 == 0).all()  # whole minutes
    day = out["day"].dropna()
    assert day.map(type).eq(str).all() and day.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    seen = timed["day"].dropna()
    assert seen.min() <= day.min() and day.max() <= seen.max()  # ISO dates sort as text
    stamp = out["stamp"]
    assert stamp.str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}").all()
    assert stamp.min() >= timed["stamp"].min() and stamp.max() <= timed["stamp"].max()
    assert out["opened"].isna().any() or kind == "ctgan"  # gaps are modelled (tvae learns them in 2 epochs)
    assert len(set(out["opened"].dropna())) > 50  # new times between the seen ones, not only copies


def test_time_and_id_columns_survive_save_and_load(timed: pd.DataFrame, tmp_path: Path) -> None:
    df = timed.assign(ref=[f"R-{i:05d}" for i in range(len(timed))])
    synth = _quiet_fit(Synthesizer("tvae", **FAST), df)
    synth.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(synth.sample(100, seed=4), loaded.sample(100, seed=4))
    cfg = (tmp_path / "m" / "config.json").read_text()
    assert "R-00001" not in cfg  # identifiers are kept as hashes, never verbatim


def _customers(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"CUST-{v:06d}" for v in rng.choice(10**6, n, replace=False)],
            "account": rng.choice(10**6, n, replace=False) + 10**6,  # named like an id: 7 digits
            "row": np.arange(n),  # a strictly increasing sequence
            "amount": rng.choice(10**6, n, replace=False),  # unique ints, but a measurement
            "segment": rng.choice(["a", "b", "c"], n),
        }
    )


def test_id_columns_are_generated_fresh_and_never_leak() -> None:
    df = _customers()
    with pytest.warns(UserWarning) as record:
        synth = Synthesizer("tvae", **FAST).fit(df)
    named = [re.match(r"column '(\w+)' \(detected as an identifier", str(w.message)) for w in record]
    assert [m.group(1) for m in named if m] == ["customer_id", "account", "row"]
    assert {w.filename for w in record} == {__file__}  # the warnings point at the fit() call
    ids = synth.report()["fit"]["id_columns"]
    assert set(ids) == {"customer_id", "account", "row"}
    assert all(v["policy"] == "generate" and v["detected"] for v in ids.values())
    assert any("customer_id" in note for note in synth.report()["fit"]["notes"])
    out = synth.sample(500, seed=0)
    assert list(out.columns) == list(df.columns)
    for col in ("customer_id", "account", "row"):
        assert not set(out[col]) & set(df[col]), col  # no training identifier appears
        assert out[col].is_unique, col
    assert out["customer_id"].str.fullmatch(r"CUST-\d{6}").all()  # same prefix and length pattern
    assert out["account"].dtype == np.int64 and (out["account"] > df["account"].max()).all()
    assert out["row"].tolist() == list(range(len(df), len(df) + 500))  # the sequence continues
    assert set(out["amount"]) <= set(df["amount"])  # modelled: quantile map returns seen levels
    assert synth.report()["fit"]["privacy_report"]["ignored_columns"] == ["customer_id", "account", "row"]


def test_id_space_exhaustion_lengthens_instead_of_repeating() -> None:
    df = pd.DataFrame({"k": [f"k{i}" for i in range(95)], "v": np.arange(95) % 3})
    plan = ColumnPlan.fit(df, warn=False)
    out = plan.restore(plan.to_model(df).iloc[:0].reindex(range(3000)), np.random.default_rng(0))
    assert out["k"].is_unique and not set(out["k"]) & set(df["k"])
    assert out["k"].str.fullmatch(r"k\d+").all()


def test_id_policies_and_explicit_id_columns() -> None:
    df = _customers()
    dropped = _quiet_fit(Synthesizer("tvae", id_policy="drop", **FAST), df)
    out = dropped.sample(20)
    assert list(out.columns) == ["amount", "segment"]
    assert dropped.report()["fit"]["id_columns"]["row"]["policy"] == "drop"

    with pytest.raises(
        ValueError, match=r"column 'customer_id' is an identifier \(detected: 240 distinct.*refuse"
    ):
        _quiet_fit(Synthesizer("tvae", id_policy="refuse", **FAST), df)

    # explicit: exactly these (no detection); a short table is below the detection threshold
    small = df.iloc[:40]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # declared columns are not warned about
        synth = Synthesizer("tvae", **FAST).fit(
            small, id_columns=["customer_id"], discrete_columns=["segment"]
        )
    assert list(synth.report()["fit"]["id_columns"]) == ["customer_id"]
    assert synth.params["id_columns"] == ["customer_id"]
    assert not set(synth.sample(100)["customer_id"]) & set(small["customer_id"])
    none = Synthesizer("tvae", id_columns=[], **FAST).fit(df[["row", "amount", "segment"]])
    assert none.report()["fit"]["id_columns"] == {}  # [] turns detection off: row is modelled

    with pytest.raises(ValueError, match="id_policy"):
        Synthesizer("tvae", id_policy="keep")
    with pytest.raises(ValueError, match="list of column names"):
        Synthesizer("tvae", id_columns="customer_id")
    with pytest.raises(ValueError, match="unknown id_columns"):
        Synthesizer("tvae", **FAST).fit(df, id_columns=["nope"])
    with pytest.raises(ValueError, match=r"every column is an identifier \(\['customer_id', 'row'\]\)"):
        _quiet_fit(Synthesizer("tvae", **FAST), df[["customer_id", "row"]])
    with pytest.raises(ValueError, match="'customer_id' is an id column"):
        _quiet_fit(Synthesizer("tvae", **FAST), df).sample(5, conditions={"customer_id": "x"})


def test_detection_rules() -> None:
    for name in ("id", "ID", "user_id", "customerId", "orderID", "uuid", "key", "customer", "account_no"):
        assert looks_like_id_name(name), name
    for name in ("idea", "valid", "amount", "customer_age", "account_balance", "monkey"):
        assert not looks_like_id_name(name), name
    rng = np.random.default_rng(1)
    n = 120
    df = pd.DataFrame(
        {
            "yyyymmdd": [
                f"2024{m:02d}{d:02d}" for m, d in zip(rng.integers(1, 13, n), rng.integers(1, 29, n))
            ],
            "year": rng.integers(1990, 2020, n).astype(str),
            "mostly_dates": [f"2024-01-{d:02d}" for d in rng.integers(1, 29, n)],
            "weekday": rng.choice(["monday", "tuesday"], n),
            "score": rng.permutation(n) * 1.5,  # unique floats: never identifiers
        }
    )
    df.loc[0:2, "mostly_dates"] = "unknown"  # 2.5 % do not parse: dates, with those values missing
    plan = ColumnPlan.fit(df, warn=False)
    assert list(plan.times) == ["mostly_dates"] and plan.ids == {}
    assert any("3 value(s) do not parse" in note for note in plan.notes)
    assert plan.to_model(df)["mostly_dates"].isna().sum() == 3


def test_label_warning_names_the_column() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=120), "churn": rng.choice(["yes", "no"], 120)})
    with pytest.warns(UserWarning, match=r"column 'churn' looks like a label.*target='churn'.*TSTR") as rec:
        synth = Synthesizer("tvae", **FAST).fit(df)
    assert {w.filename for w in rec} == {__file__}  # the warning points at the fit() call
    assert any("'churn'" in note for note in synth.report()["fit"]["notes"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Synthesizer("tvae", **FAST).fit(df, target="churn")  # no warning with a target
    assert label_candidates(df.assign(y=rng.normal(size=120))) == ["churn"]  # y: too many values


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="aigc")
    aigc_synth.register_commands(subparsers=parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_cli_option_accepts_bare_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from aigc_synth.cli import parse_option

    assert parse_option("latent_prior=gmm") == ("latent_prior", "gmm")
    assert parse_option('latent_prior="gmm"') == ("latent_prior", "gmm")
    assert parse_option("hidden=[16, 8]") == ("hidden", [16, 8])
    assert parse_option("dp_delta=null") == ("dp_delta", None)
    assert parse_option("note=a=b") == ("note", "a=b")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_option("gmm")
    data = tmp_path / "t.csv"
    _customers(120).to_csv(data, index=False)
    model = tmp_path / "m"
    opts = ["--option", "latent_prior=gmm", "--option", "prior_components=2", "--option", "hidden=[16]"]
    with pytest.warns(UserWarning) as record:
        code = _cli(
            "synth", "fit", str(data), "--out", str(model), "--epochs", "1", "--id-policy", "drop", *opts
        )
    assert code == 0 and "'customer_id'" in str(record[0].message) and "dropped" in str(record[0].message)
    printed = capsys.readouterr().out
    assert "privacy: DCR median" in printed and "exact copies" in printed
    params = json.loads((model / "config.json").read_text())["params"]
    assert params["latent_prior"] == "gmm" and params["prior_components"] == 2 and params["hidden"] == [16]
    assert params["id_policy"] == "drop"
    rows = tmp_path / "rows.csv"
    assert _cli("synth", "sample", str(model), "-n", "10", "--out", str(rows)) == 0
    assert list(pd.read_csv(rows).columns) == ["amount", "segment"]


class _Odd:
    pass


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param([[1], [2]] * 30, r"column 'bad' \(dtype object\) holds list values", id="lists"),
        pytest.param([b"x", b"y"] * 30, r"column 'bad' \(dtype object\) holds bytes values", id="bytes"),
        pytest.param(
            [decimal.Decimal("1.5")] * 60, r"column 'bad' \(dtype object\) holds Decimal", id="decimal"
        ),
        pytest.param([_Odd()] * 60, r"column 'bad' \(dtype object\) holds _Odd values", id="object"),
        pytest.param([1 + 2j] * 60, r"column 'bad' has dtype complex128", id="complex"),
        pytest.param(
            pd.period_range("2024-01", periods=60, freq="M"),
            r"column 'bad' has dtype period\[M\]",
            id="period",
        ),
        pytest.param(
            pd.Categorical(pd.date_range("2024-01-01", periods=60)),
            r"column 'bad' has dtype category with datetime64 categories",
            id="category-of-timestamps",
        ),
    ],
)
def test_unsupported_columns_are_named(values: object, message: str) -> None:
    df = pd.DataFrame({"x": np.arange(60) % 7, "bad": values})
    with pytest.raises(ValueError, match=message):
        Synthesizer("tvae", **FAST).fit(df)


def test_time_columns_never_fail_without_the_column_name(timed: pd.DataFrame) -> None:
    # mixed time zones in one object column: modelled on one instant scale (UTC)
    mixed = pd.Series(
        [pd.Timestamp("2024-01-01 10:00", tz="UTC"), pd.Timestamp("2024-06-01 10:00", tz="Europe/Berlin")]
        * 30,
        dtype=object,
    )
    out = Synthesizer("tvae", **FAST).fit(pd.DataFrame({"x": np.arange(60) % 5, "t": mixed})).sample(20)
    assert str(out["t"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ValueError, match=r"column 'opened' \(dtype datetime64\[ns\]\) holds datetime"):
        Synthesizer("tvae", **FAST).fit(timed, discrete_columns=["opened", "kind"])
    with pytest.raises(ValueError, match=r"column 'opened'.*target"):
        Synthesizer("tvae", **FAST).fit(timed, target="opened")
    schema = {"amount": {"min": 0, "max": 200}, "opened": {"min": 0, "max": 1}}
    with pytest.raises(ValueError, match=r"column 'opened'.*differentially-private"):
        Synthesizer("tvae", dp_epsilon=1.0, **FAST).fit(timed[["amount", "opened"]], schema=schema)


def test_id_columns_under_differential_privacy(frame: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("opacus")
    schema = {
        "age": {"min": 18, "max": 80, "integer": True},
        "income": {"min": 0, "max": 200, "nullable": True},
        "group": {"categories": ["a", "b", "c"]},
        "city": {"categories": ["north", "south", None]},
        "term": {"categories": [12, 24, 36]},
        "Status": {"categories": ["bad", "good"]},
    }
    df = frame.assign(ref=[f"R-{i:05d}" for i in range(len(frame))])
    opts = {"epochs": 1, "batch_size": 100, "hidden": [16], "latent_dim": 4, "dp_epsilon": 3.0}
    with pytest.raises(ValueError, match=r"id_policy='generate' learns the format.*\['ref'\]"):
        Synthesizer("tvae", **opts).fit(df, target="Status", schema=schema, id_columns=["ref"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no detection, no label hint: nothing read from the rows
        synth = Synthesizer("tvae", id_policy="drop", **opts).fit(
            df, target="Status", schema=schema, id_columns=["ref"]
        )
    assert "ref" not in synth.sample(10).columns
    assert synth.report()["fit"]["id_columns"] == {
        "ref": {"detected": False, "policy": "drop", "dtype": "object"}
    }
    synth.save(tmp_path / "m")
    assert "R-0" not in (tmp_path / "m" / "config.json").read_text()


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y-%m-%d",
        "%d/%m/%Y",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S+01:00",
        "%Y-%m-%dT%H:%M:%SZ",
    ],
)
def test_date_strings_decode_to_their_own_format(fmt: str) -> None:
    rng = np.random.default_rng(0)
    times = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**5, 80), unit="min"))
    df = pd.DataFrame({"t": times.dt.strftime(fmt)})
    plan = ColumnPlan.fit(df, warn=False)
    assert plan.times["t"]["kind"] == "date_string"
    back = plan.restore(plan.to_model(df), np.random.default_rng(0))
    pd.testing.assert_series_equal(back["t"], df["t"])  # exact text round trip
