"""The classifier extractor's weights and features do not depend on the thread count, and a
cache entry whose weights do not match their recorded hash is retrained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch

from aigc_metrics import classifier
from aigc_metrics.classifier import ClassifierExtractor, weights_sha256

_CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    import torch
    torch.set_num_threads(int(sys.argv[1]))
    import aigc_sdk
    from aigc_metrics.classifier import ClassifierExtractor
    clf = ClassifierExtractor("digits", cache=False)
    x = aigc_sdk.load_dataset("digits").load("test").tensors[0]
    feats = clf(x).numpy()
    print(json.dumps({
        "threads": torch.get_num_threads(),
        "name": clf.name,
        "weights": clf.weights_sha256,
        "features": hashlib.sha256(feats.tobytes()).hexdigest(),
        "test_accuracy": clf.test_accuracy,
    }))
    """
)


def _train_in_child(threads: int, cache: str) -> dict:
    env = {**os.environ, "AIGC_SDK_CACHE": cache, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(threads)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_weights_and_features_identical_with_1_and_2_threads(tmp_path):
    one = _train_in_child(1, str(tmp_path / "c1"))
    two = _train_in_child(2, str(tmp_path / "c2"))
    assert one["threads"] == 1 and two["threads"] == 2
    assert one["weights"] == two["weights"]
    assert one["name"] == two["name"] == f"classifier-digits-{one['weights'][:8]}"
    assert one["features"] == two["features"]
    assert one["test_accuracy"] == two["test_accuracy"]


def test_training_restores_thread_count_determinism_flag_and_rng(tmp_cache):
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    rng = torch.get_rng_state()
    ClassifierExtractor("digits", epochs=1, cache=False)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.get_rng_state(), rng)  # a training run that builds one is unaffected


def test_cache_entry_with_wrong_weight_hash_is_retrained(tmp_cache):
    a = ClassifierExtractor("digits", epochs=1)
    meta_path = tmp_cache / "classifiers" / f"digits-{a.fingerprint[:16]}.json"
    meta = json.loads(meta_path.read_text())
    meta["weights_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    classifier._memo.clear()
    b = ClassifierExtractor("digits", epochs=1)
    assert b.weights_sha256 == a.weights_sha256 == weights_sha256(b.net.state_dict())
    assert json.loads(meta_path.read_text())["weights_sha256"] == a.weights_sha256
