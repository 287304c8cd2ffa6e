"""The default ``ensemble`` detector and its members: the array-stored isolation forest, ECOD,
the rotation-prediction CNN for images, score fusion and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from aigc_anomaly.classical import ECODScorer, IsolationForestScorer, ScoreStandardiser, average_path_length
from aigc_anomaly.detector import Detector

from .test_detector import FAST, cluster_with_outliers


def test_forest_scores_match_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IsolationForestScorer, "CHUNK", 128)  # several chunks, a ragged last one
    x, _ = cluster_with_outliers(seed=3, n=500, d=5)
    ours = IsolationForestScorer(n_estimators=40, max_samples=128, seed=7).fit(x)
    ref = IsolationForest(n_estimators=40, max_samples=128, random_state=7).fit(x)
    queries = np.vstack([x, np.random.default_rng(0).normal(scale=3.0, size=(50, 5))])
    np.testing.assert_allclose(ours.score(queries), -ref.score_samples(queries), rtol=0, atol=1e-12)


def test_forest_round_trips_through_its_arrays() -> None:
    x, _ = cluster_with_outliers(seed=1, n=300, d=4)
    forest = IsolationForestScorer(n_estimators=10, seed=0).fit(x)
    again = IsolationForestScorer.from_state(forest.state("f."), "f.")
    assert again.n_estimators == 10 and again.max_samples == 256
    assert np.array_equal(again.score(x), forest.score(x))


def test_average_path_length_known_values() -> None:
    got = average_path_length(np.array([0, 1, 2, 3, 256]))
    assert got[:3].tolist() == [0.0, 0.0, 1.0]
    assert got[3] == pytest.approx(2 * (np.log(2) + 0.5772156649015329) - 4 / 3)
    assert got[4] == pytest.approx(10.244770920, rel=1e-6)


def test_ecod_scores_the_tails_of_each_feature() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3))
    ecod = ECODScorer().fit(x)
    centre, one_far, two_far = np.zeros(3), np.array([4.0, 0, 0]), np.array([4.0, 4.0, 0])
    s = ecod.score(np.stack([centre, one_far, two_far]))
    assert s[0] < s[1] < s[2]
    # each aggregate is one-sided: far out on opposite sides counts as far out in one feature
    assert ecod.score(np.array([[4.0, -4.0, 0.0]]))[0] < s[2]
    # a value beyond every training value has tail probability 1 / (n + 1) in that feature
    assert ecod.score(np.array([[1e6, 0.0, 0.0]]))[0] >= np.log(1001.0)


def test_standardiser_handles_constant_scores() -> None:
    z = ScoreStandardiser().fit(np.full(10, 3.0))
    assert z.spread == 1.0 and z(np.array([4.0]))[0] == 1.0


@pytest.fixture(scope="module")
def table() -> tuple[np.ndarray, np.ndarray]:
    return cluster_with_outliers(seed=5)


@pytest.fixture(scope="module")
def ensemble(table: tuple[np.ndarray, np.ndarray]) -> Detector:
    return Detector(forest_trees=50, **FAST).fit(table[0])


def test_ensemble_is_the_default_and_combines_three_members(
    ensemble: Detector, table: tuple[np.ndarray, np.ndarray]
) -> None:
    assert Detector().config["kind"] == "ensemble"
    report = ensemble.report()
    assert report["members"] == ["network", "forest", "ecod"]
    x, y = table
    assert ensemble.evaluate(x, y)["roc_auc"] > 0.95
    # the score is the weighted sum of the standardised members
    rows = torch.from_numpy(ensemble.preprocessor.transform(x))
    members = ensemble._member_scores(rows)
    by_hand = sum(w * z(members[name]) for name, (w, z) in ensemble.parts.items())
    np.testing.assert_allclose(ensemble.score(x), by_hand)
    assert {name: w for name, (w, _) in ensemble.parts.items()} == {
        "network": 1.0,
        "forest": 2.0,
        "ecod": 1.0,
    }


def test_ensemble_save_load_is_bitwise(
    ensemble: Detector, table: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    ensemble.save(tmp_path / "det")
    again = Detector.load(tmp_path / "det")
    assert again.config["kind"] == "ensemble" and list(again.parts) == ["network", "forest", "ecod"]
    assert np.array_equal(again.score(table[0]), ensemble.score(table[0]))
    assert np.array_equal(again.predict(table[0]), ensemble.predict(table[0]))


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.float32)[:, None] / 16.0
    return images[:1200], images[1200:]


def test_images_get_the_rotation_cnn_and_rotated_images_score_high(tmp_path: Path) -> None:
    train, test = _digits()
    det = Detector(forest_trees=50, rotation_steps=150, seed=0).fit(train)
    assert det.report()["members"] == ["rotation", "forest"] and det.net is None
    # a digit turned on its side is not a normal digit: the CNN names the wrong rotation
    turned = np.rot90(test, 1, axes=(2, 3)).copy()
    labels = np.r_[np.zeros(len(test)), np.ones(len(turned))]
    scores = det.score(np.concatenate([test, turned]))
    assert roc_auc_score(labels, scores) > 0.9
    det.save(tmp_path / "img")
    again = Detector.load(tmp_path / "img")
    assert np.array_equal(again.score(test), det.score(test))
    with pytest.raises(ValueError, match="per-sample shape"):
        det.score(test[:, :, :4, :4])


def test_network_kinds_keep_the_network_alone(table: tuple[np.ndarray, np.ndarray]) -> None:
    det = Detector("ae", **FAST).fit(table[0])
    assert det.report()["members"] == ["network"] and det.forest is None and det.ecod is None


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"kind": "forest"}, "kind must be one of"),
        ({"forest_trees": 0}, "forest_trees"),
        ({"rotation_steps": -1}, "rotation_steps"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Detector(**options)  # type: ignore[arg-type]
