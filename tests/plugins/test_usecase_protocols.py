"""Real-data protocol checks (one seed each); skipped when river / recbole are not installed.

The full 3-seed protocols with timings are the scripts ``benchmarks/usecase_anomaly.py`` and
``benchmarks/usecase_recommend.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

pytestmark = pytest.mark.slow


@pytest.mark.skipif(importlib.util.find_spec("river") is None, reason="needs river (Shuttle data)")
def test_shuttle_protocol_seed0() -> None:
    import usecase_anomaly as proto

    X, y = proto.load_shuttle()
    assert X.shape == (49097, 9) and abs(y.mean() - 0.0715) < 1e-3
    row = proto.run_seed(lambda seed: (X, y), 0, {})
    assert row["ours"]["roc_auc"] > 0.995 and row["ours"]["average_precision"] > 0.95, row
    # the ensemble's forest and ECOD lift AP above the autoencoder alone
    assert row["ours"]["average_precision"] > row["sdk-ae"]["average_precision"], row


def test_breast_cancer_protocol_seed0() -> None:
    import usecase_anomaly as proto

    X, y = proto.breast_cancer(0)
    assert abs(y.mean() - 0.10) < 0.005 and X.shape[1] == 30
    row = proto.run_seed(proto.breast_cancer, 0, {})
    assert (
        row["ours"]["roc_auc"] > 0.85
        and row["ours"]["average_precision"] > row["sdk-ae"]["average_precision"]
    )


@pytest.mark.skipif(importlib.util.find_spec("recbole") is None, reason="needs recbole (MovieLens-100k data)")
def test_ml100k_protocol_seed0() -> None:
    import usecase_recommend as proto

    from aigc_recommend.recommender import Recommender

    sp = proto.split(proto.load_positives(), 0)
    assert sp["val"][0].shape == (100, sp["train"].shape[1])
    rec = Recommender("multdae", epochs=30, seed=0).fit(sp["train"], validation=sp["val"])
    m = rec.evaluate(*sp["test"], ks=(20, 100))
    assert m["ndcg@100"] > 0.35 and m["recall@20"] > 0.3, m


@pytest.mark.parametrize("style", ["rng", "liang"])
def test_strong_generalisation_split(style: str) -> None:
    import numpy as np
    import pandas as pd
    import usecase_recommend as proto

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user_id": rng.integers(0, 300, 6000), "item_id": rng.integers(0, 80, 6000)})
    df = df.drop_duplicates().reset_index(drop=True)
    sp = proto.split(df, 3, n_heldout=20, style=style)
    n_items = len(sp["items"])
    assert sp["train"].shape == (300 - 40, n_items)
    for fold, held in (sp["val"], sp["test"]):
        assert fold.shape == held.shape == (20, n_items)
        assert not (fold * held).any()  # disjoint fold-in and held-out items
        both = fold + held
        np.testing.assert_array_equal(held.sum(1), np.floor(0.2 * both.sum(1)))  # 20% held out, rounded down
    again = proto.split(df, 3, n_heldout=20, style=style)
    np.testing.assert_array_equal(again["test"][1], sp["test"][1])  # reproducible under the seed
    other = proto.split(df, 3, n_heldout=20, style="liang" if style == "rng" else "rng")
    assert not np.array_equal(other["test"][0], sp["test"][0])
    with pytest.raises(ValueError, match="style"):
        proto.split(df, 3, style="random")
