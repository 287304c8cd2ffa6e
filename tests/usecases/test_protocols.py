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
    row = proto.run_seed("ae", 0, X, y)
    assert row["roc_auc"] > 0.99 and row["average_precision"] > 0.9, row


@pytest.mark.skipif(importlib.util.find_spec("recbole") is None, reason="needs recbole (MovieLens-100k data)")
def test_ml100k_protocol_seed0() -> None:
    import usecase_recommend as proto

    from aigc_recommend.recommender import Recommender

    sp = proto.split(proto.load_positives(), 0)
    assert sp["val"][0].shape == (100, sp["train"].shape[1])
    rec = Recommender("multdae", epochs=30, seed=0).fit(sp["train"], validation=sp["val"])
    m = rec.evaluate(*sp["test"], ks=(20, 100))
    assert m["ndcg@100"] > 0.35 and m["recall@20"] > 0.3, m
