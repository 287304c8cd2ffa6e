"""The table transformer and the 1-D mixture behind mode-specific normalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aigc_synth.gmm import fit_gmm_1d
from aigc_synth.transformer import TableTransformer


@pytest.mark.parametrize("encoding", ["quantile", "mode"])
def test_round_trip_keeps_values(frame: pd.DataFrame, encoding: str) -> None:
    t = TableTransformer(encoding).fit(frame, ["group", "city", "Status"], seed=0)
    x = t.transform(frame, seed=0)
    assert x.shape == (len(frame), t.output_dim) and x.dtype == np.float32
    back = t.inverse_transform(x)
    for col in ("group", "city", "Status"):
        pd.testing.assert_series_equal(back[col].fillna("?"), frame[col].fillna("?"), check_names=False)
    assert back["income"].isna().equals(frame["income"].isna())
    assert back["age"].dtype == np.int64
    if encoding == "quantile":  # the quantile map is exact on training values
        np.testing.assert_array_equal(back["age"], frame["age"])
        got, want = back["income"].dropna(), frame["income"].dropna()
        np.testing.assert_array_equal(got == 0, want == 0)  # the point mass is kept exactly
        np.testing.assert_allclose(got, want, rtol=0.15)
    else:
        assert np.abs(back["age"] - frame["age"]).max() <= 1


def test_state_round_trip(frame: pd.DataFrame) -> None:
    t = TableTransformer("mode").fit(frame, ["group", "city", "Status"], seed=0)
    config, arrays = t.state()
    import json

    t2 = TableTransformer.from_state(json.loads(json.dumps(config)), arrays)
    x = t.transform(frame, seed=1)
    np.testing.assert_array_equal(x, t2.transform(frame, seed=1))
    pd.testing.assert_frame_equal(t.inverse_transform(x), t2.inverse_transform(x))


def test_unseen_category_in_transform(frame: pd.DataFrame) -> None:
    t = TableTransformer().fit(frame, ["group", "city", "Status"])
    bad = frame.copy()
    bad.loc[0, "group"] = "zzz"
    with pytest.raises(ValueError, match="not seen"):
        t.transform(bad)


def test_gmm_finds_two_modes() -> None:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-5, 1, 2000), rng.normal(5, 1, 2000)]
    w, m, _sd = fit_gmm_1d(x, max_components=10)
    assert abs(w[m < -3].sum() - 0.5) < 0.05 and abs(w[m > 3].sum() - 0.5) < 0.05
    assert np.isclose(w.sum(), 1.0)
