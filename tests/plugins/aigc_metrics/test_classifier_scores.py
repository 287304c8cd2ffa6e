"""The classifier extractor (determinism, cache), Inception-style score and CAS."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import entropy

import aigc_sdk
from aigc_metrics.cas import CAS
from aigc_metrics.classifier import ClassifierExtractor, weights_sha256
from aigc_metrics.inception_score import InceptionScore, inception_score


def reference_is(p: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    p = p[np.random.default_rng(seed).permutation(len(p))]
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0)
        scores.append(np.exp(np.mean([entropy(row, py) for row in part])))
    return float(np.mean(scores)), float(np.std(scores))


def test_inception_score_matches_reference():
    rng = np.random.default_rng(0)
    p = softmax(rng.standard_normal((503, 10)) * 3, axis=1)
    p[0] = np.eye(10)[3]  # exact zeros: 0 log 0 = 0
    got = inception_score(p, splits=10, seed=4)
    want = reference_is(p, 10, 4)
    assert got[0] == pytest.approx(want[0], rel=1e-9) and got[1] == pytest.approx(want[1], rel=1e-9)
    ev = InceptionScore(splits=10, seed=4)
    ev.update(fake=p[:200])
    ev.update(fake=p[200:])
    assert ev.compute() == {"is": got[0], "is_std": got[1]}


def test_inception_score_bounds_and_bad_input():
    assert inception_score(np.eye(10)[np.arange(100) % 10], splits=10, seed=None)[0] == pytest.approx(10.0)
    assert inception_score(np.full((100, 10), 0.1), splits=10)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="probabilities"):
        InceptionScore().update(fake=np.ones((5, 3)))
    with pytest.raises(ValueError, match="at least splits"):
        inception_score(np.full((5, 10), 0.1), splits=10)


def test_cas_counts_and_validates_labels():
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0], [5.0, 0.0], [0.0, 5.0]])
    ev = CAS(inputs="logits")
    ev.update(fake=logits, labels=torch.tensor([0, 1, 1, 1]))
    assert ev.compute() == {"cas": 0.75}
    with pytest.raises(ValueError, match="labels are required"):
        ev.update(fake=logits)
    with pytest.raises(ValueError, match="labels must lie"):
        ev.update(fake=logits, labels=torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="cas needs"):
        CAS().compute()


def test_classifier_is_deterministic_and_cached(tmp_cache):
    a = ClassifierExtractor("digits")
    files = sorted(p.name for p in (tmp_cache / "classifiers").iterdir())
    stem = f"digits-{a.fingerprint[:16]}"  # cache key: data + recipe
    assert files == [f"{stem}.json", f"{stem}.safetensors"]
    meta = json.loads((tmp_cache / "classifiers" / f"{stem}.json").read_text())
    assert meta["fingerprint"] == a.fingerprint and meta["weights_sha256"] == a.weights_sha256
    # the name carries the weight hash, so equal names mean equal weights
    assert a.name == f"classifier-digits-{a.weights_sha256[:8]}" == meta["name"]
    assert a.weights_sha256 == weights_sha256(a.net.state_dict())
    assert a.test_accuracy >= 0.9
    # a second, independent training run gives bitwise-identical weights
    from aigc_metrics import classifier

    classifier._memo.clear()
    b = ClassifierExtractor("digits", cache=False)
    for (ka, va), (kb, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    # another config, another key
    assert ClassifierExtractor("digits", epochs=2, cache=False).name != a.name
    x, y = aigc_sdk.load_dataset("digits").load("test").tensors
    feats = a(x)
    assert feats.shape == (x.shape[0], a.feature_dim) and feats.dtype == torch.float32
    assert a.logits(x).shape == (x.shape[0], 10)
    pred = a.predict(x)
    assert pred.dtype == torch.long and (pred == y).double().mean().item() == pytest.approx(a.test_accuracy)
    with pytest.raises(ValueError, match="shape"):
        a(torch.zeros(2, 1, 28, 28))


def test_classifier_through_registry_scores_real_data(tmp_cache):
    clf = aigc_sdk.get_feature_extractor("classifier", dataset="digits")
    x, y = aigc_sdk.load_dataset("digits").load("test").tensors
    cas = aigc_sdk.get_evaluator("cas", classifier=clf)
    cas.update(fake=x, labels=y)
    assert cas.compute()["cas"] == pytest.approx(clf.test_accuracy)
    is_ev = aigc_sdk.get_evaluator("is", classifier=clf)
    is_ev.update(fake=x, real=x)
    out = is_ev.compute()
    assert 5.0 < out["is"] <= 10.0 and out["is_real"] == out["is"]


@pytest.mark.slow
def test_mnist5k_classifier_accuracy():
    """Uses the default cache (trains once, about 20 s on 2 cores)."""
    clf = aigc_sdk.get_feature_extractor("classifier", dataset="mnist5k")
    assert clf.test_accuracy >= 0.95
    assert clf.name.startswith("classifier-mnist5k-")


def test_other_extractors():
    x = torch.rand(6, 1, 8, 8)
    rc = aigc_sdk.get_feature_extractor("random-conv", seed=3)
    f1, f2 = rc(x), aigc_sdk.get_feature_extractor("random-conv", seed=3)(x)
    assert f1.shape == (6, rc.feature_dim) and torch.equal(f1, f2)
    assert not torch.equal(f1, aigc_sdk.get_feature_extractor("random-conv", seed=4)(x))
    raw = aigc_sdk.get_feature_extractor("raw")
    assert raw(x).shape == (6, 64) and raw.name == "raw"
    with pytest.raises(ValueError, match="images"):
        rc(torch.rand(6, 64))
