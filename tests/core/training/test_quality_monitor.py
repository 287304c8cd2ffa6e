"""QualityMonitor: quality metrics during training, the best model, and the collapse alarm
(digits, a tiny GAN, a few steps)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import aigc_sdk
from aigc_sdk.training import QualityCollapseError, QualityMonitor, Trainer

KEYS = {"precision", "recall", "density", "coverage", "fid"}


@pytest.fixture(scope="module", autouse=True)
def _module_cache(tmp_path_factory):
    """One private classifier cache for the module (the classifier trains once, ~7 s)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGC_SDK_CACHE", str(tmp_path_factory.mktemp("cache")))
        from aigc_metrics import classifier

        mp.setattr(classifier, "_memo", {})
        yield


def _gan() -> object:
    torch.manual_seed(0)
    return aigc_sdk.create_model("gan", dataset="digits", channels=16, hidden=64, latent_dim=16)


def _fit(model, out_dir, callbacks=(), steps=20):
    trainer = Trainer(
        model,
        aigc_sdk.load_dataset("digits"),
        steps=steps,
        batch_size=32,
        out_dir=out_dir,
        seed=0,
        device="cpu",
        progress=False,
        callbacks=callbacks,
    )
    return trainer, trainer.fit()


def test_monitor_logs_keeps_the_best_model_and_leaves_training_unchanged(tmp_path):
    mon = QualityMonitor("digits", every=10, n=200, best_by="recall")
    model = _gan()
    _fit(model, tmp_path / "run", [mon])
    assert [r["step"] for r in mon.history] == [10, 20]
    lines = (tmp_path / "run" / "quality.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == mon.history
    for rec in mon.history:
        assert set(rec) >= KEYS and rec["n_real"] == rec["n_fake"] == 200
        assert rec["extractor"].startswith("classifier-digits-")
        assert all(rec[k] >= 0.0 for k in KEYS)
    best = max(mon.history, key=lambda r: r["recall"])
    assert mon.best is not None and mon.best["recall"] == best["recall"]
    assert json.loads((tmp_path / "run" / "best.json").read_text())["step"] == mon.best["step"]
    assert mon.best_dir == tmp_path / "run" / "best"
    saved = aigc_sdk.load(str(mon.best_dir))
    assert type(saved) is type(model)
    # sampling from a fixed generator: the trained weights are those of a run without the monitor
    plain = _gan()
    _fit(plain, tmp_path / "plain")
    for (k, a), b in zip(model.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), k


def test_min_recall_warns_or_stops(tmp_path):
    mon = QualityMonitor("digits", every=5, n=100, metrics=("prc",), best_by=None, min_recall=1.0)
    with pytest.warns(RuntimeWarning, match=r"recall .* fell below min_recall=1 at step 5"):
        _fit(_gan(), tmp_path / "warn", [mon], steps=5)
    assert not (tmp_path / "warn" / "best").exists() and mon.best is None
    stop = QualityMonitor("digits", every=5, n=100, metrics=("prc",), min_recall=1.0, stop_below=True)
    with pytest.raises(QualityCollapseError, match="training stopped") as info:
        _fit(_gan(), tmp_path / "stop", [stop], steps=10)
    assert info.value.step == 5 and info.value.metrics["recall"] < 1.0
    assert info.value.best_dir == tmp_path / "stop" / "best"  # saved before the alarm


def test_without_out_dir_history_only():
    mon = QualityMonitor("digits", every=4, n=60, metrics=("prdc",), best_by="coverage")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _fit(_gan(), None, [mon], steps=6)
    assert [r["step"] for r in mon.history] == [4, 6]  # 6: the end of a completed run
    assert mon.best is not None and mon.best_dir is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every": 0}, "every must be a positive int"),
        ({"n": 3}, "n must be at least 6"),
        ({"metrics": ("cas",)}, r"metrics must be feature evaluators, one of \["),
        ({"metrics": ()}, "metrics must name at least one"),
        ({"best_by": "bogus"}, r"best_by must be None or one of \['coverage', 'density', 'fid'"),
        ({"min_recall": 2.0}, r"min_recall must be in \[0, 1\]"),
        ({"metrics": ("dc",), "best_by": None, "min_recall": 0.3}, "min_recall needs a recall"),
        ({"stop_below": True}, "stop_below=True needs min_recall"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QualityMonitor("digits", **kwargs)


def test_resume_keeps_records_up_to_the_resumed_step(tmp_path):
    from types import SimpleNamespace

    recs = [{"step": s, "recall": r} for s, r in ((10, 0.2), (20, 0.5), (30, 0.9))]
    (tmp_path / "quality.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"step": 4')
    (tmp_path / "best").mkdir()
    (tmp_path / "best.json").write_text(json.dumps({"step": 30}))  # saved after the checkpoint
    mon = QualityMonitor("digits", every=10, n=50, metrics=("prc",))
    mon.on_fit_start(SimpleNamespace(out_dir=tmp_path, step=20, steps=40, dist=None), _gan())
    assert [r["step"] for r in mon.history] == [10, 20] and mon.best == recs[1]
    assert mon.best_dir is None  # best/ holds step 30's model, past the resumed step
    assert (tmp_path / "quality.jsonl").read_text().splitlines() == [json.dumps(r) for r in recs[:2]]
