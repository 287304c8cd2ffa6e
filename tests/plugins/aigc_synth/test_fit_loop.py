"""The synthesizer's training loops run in a FitLoop: callbacks, plugin hooks, divergence stop,
early stop and threads, without changing what a seeded fit produces."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pytest
import torch

import aigc_synth.ctgan
import aigc_synth.privacy
import aigc_synth.tvae
from aigc_sdk.hookspecs import hookimpl
from aigc_sdk.registry import Registry
from aigc_sdk.training import EarlyStopping, TrainingDivergedError
from aigc_synth.networks import CTGANDiscriminator, TabularVAE
from aigc_synth.synthesizer import Synthesizer

SMALL: dict[str, Any] = {"epochs": 2, "batch_size": 100, "hidden": [32], "latent_dim": 8, "privacy_rows": 0}
STEPS = 8  # 2 epochs of 400 rows in batches of 100 (ctgan: rows // batch; dp: epochs / rate)
LOSS_KEYS = {
    "tvae": {"loss", "reconstruction", "kl"},
    "ctgan": {"loss_d", "penalty", "loss_g"},
    "dp": {"noisy_grad_norm"},  # training losses are not private: never handed to hooks
}
#: Modules whose training loops run in a FitLoop.
LOOP_MODULES = (aigc_synth.tvae, aigc_synth.ctgan, aigc_synth.privacy)


def _schema() -> dict[str, dict[str, Any]]:
    from tests.plugins.aigc_synth.test_privacy import SCHEMA

    return SCHEMA


def _synth(case: str) -> tuple[Synthesizer, dict[str, Any]]:
    """A synthesizer for ``case`` (tvae, ctgan or dp: a private tvae) and its fit arguments."""
    if case == "dp":
        pytest.importorskip("opacus")
        return Synthesizer("tvae", seed=7, dp_epsilon=3.0, **SMALL), {"target": "Status", "schema": _schema()}
    return Synthesizer(case, seed=7, **SMALL), {"target": "Status"}


def _fit(frame: pd.DataFrame, case: str, **fit_options: Any) -> Synthesizer:
    synth, args = _synth(case)
    return synth.fit(frame, **args, **fit_options)


class Recorder:
    """A user callback that writes down every hook call and the thread count it ran under."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.threads: set[int] = set()

    def on_fit_start(self, trainer: Any, model: Any) -> None:
        self.calls.append(("start", trainer.step))

    def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Any) -> None:
        self.calls.append(("step", step, dict(metrics)))
        self.threads.add(torch.get_num_threads())

    def on_fit_end(self, trainer: Any, model: Any, metrics: Any) -> None:
        self.calls.append(("end", dict(metrics)))

    def steps(self) -> list[dict[str, float]]:
        return [c[2] for c in self.calls if c[0] == "step"]


class _NullLoop:
    """Stands in for FitLoop: no hooks, no progress, no threads, no checks."""

    should_stop = False

    def __init__(self, **_: Any) -> None:
        pass

    def __enter__(self) -> _NullLoop:
        return self

    def __exit__(self, *_: Any) -> None:
        pass

    def end_step(self, metrics: Any = None) -> None:
        pass


@contextmanager
def _without_fit_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as m:
        for mod in LOOP_MODULES:
            m.setattr(mod, "FitLoop", _NullLoop)
        yield


def _same_model(a: Synthesizer, b: Synthesizer) -> None:
    assert a.net is not None and b.net is not None
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    pd.testing.assert_frame_equal(a.sample(200, seed=3), b.sample(200, seed=3))
    assert a.fit_info["final_losses"] == b.fit_info["final_losses"]


@pytest.mark.parametrize("case", ["tvae", "ctgan", "dp"])
def test_callbacks_and_plugins_see_every_step(
    case: str, frame: pd.DataFrame, aigc_empty_registry: Registry
) -> None:
    seen: list[tuple[int, frozenset[str]]] = []

    class Plugin:
        @hookimpl
        def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Any) -> None:
            seen.append((step, frozenset(metrics)))

    aigc_empty_registry.host.register(Plugin())
    rec = Recorder()
    synth = _fit(frame, case, callbacks=[rec])
    assert rec.calls[0] == ("start", 0) and rec.calls[-1][0] == "end"
    steps = rec.steps()
    assert len(steps) == STEPS and all(set(s) == LOSS_KEYS[case] for s in steps)
    assert all(isinstance(v, float) and math.isfinite(v) for s in steps for v in s.values())
    assert rec.calls[-1][1] == steps[-1]  # on_fit_end gets the last step's figures
    assert seen == [(i, frozenset(LOSS_KEYS[case])) for i in range(1, STEPS + 1)]
    if case == "ctgan":  # the last step's losses are the ones reported
        assert synth.fit_info["final_losses"] == steps[-1]


@pytest.mark.parametrize("case", ["tvae", "ctgan", "dp"])
def test_the_loop_does_not_change_a_seeded_fit(
    case: str, frame: pd.DataFrame, aigc_empty_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks, a plugin and the progress bar leave the model and its samples bitwise as without them."""

    class Plugin:
        @hookimpl
        def on_train_step_end(self, trainer: Any, model: Any, step: int, metrics: Any) -> None:
            pass

    aigc_empty_registry.host.register(Plugin())
    with_loop = _fit(frame, case, callbacks=[Recorder()], progress=True)
    with _without_fit_loop(monkeypatch):
        bare = _fit(frame, case)
    _same_model(with_loop, bare)


@pytest.mark.parametrize(
    ("case", "weights", "losses", "ages"),
    [
        (
            "ctgan",
            41.85539588908432,
            {"loss_d": 0.07522463798522949, "penalty": 4.283665180206299, "loss_g": 1.3276557922363281},
            [45, 45, 43, 38, 38],
        ),
        ("dp", -9.705538977854303, {}, [45, 49, 50, 49, 50]),
    ],
)
def test_a_seeded_fit_gives_what_it_gave_before_the_fit_loop(
    case: str, weights: float, losses: dict[str, float], ages: list[int], frame: pd.DataFrame
) -> None:
    """Figures recorded with the loops as they were before they ran in a FitLoop (torch 2.14.1, CPU,
    one thread). The tolerance allows for another CPU's arithmetic; an extra random draw anywhere in
    training would move these figures far beyond it. (tvae is covered by the test above only: its
    latent noise comes from the SDK's sampling op, whose random stream may change on its own.)"""
    synth = _fit(frame, case)
    assert synth.net is not None
    total = sum(float(v.double().sum()) for v in synth.net.state_dict().values() if v.is_floating_point())
    assert total == pytest.approx(weights, rel=1e-5)
    assert synth.fit_info["final_losses"] == pytest.approx(losses, rel=1e-4)
    assert synth.sample(5, seed=1)["age"].tolist() == ages


@pytest.mark.parametrize("case", ["tvae", "ctgan", "dp"])
def test_a_nan_loss_stops_the_fit_naming_the_step(
    case: str, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    if case == "ctgan":
        original: Any = CTGANDiscriminator.gradient_penalty

        def nan_penalty(self: Any, real: Any, fake: Any, lam: float = 10.0) -> Any:
            calls["n"] += 1
            out = original(self, real, fake, lam)
            return out * math.nan if calls["n"] == 3 else out

        monkeypatch.setattr(CTGANDiscriminator, "gradient_penalty", nan_penalty)
        match = r"synth ctgan: training diverged at step 3 \(penalty=nan\)"
    else:
        original = TabularVAE.loss

        def nan_loss(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            out = original(self, *args, **kwargs)
            return tuple(t * math.nan for t in out) if calls["n"] == 3 else out

        monkeypatch.setattr(TabularVAE, "loss", nan_loss)
        match = (
            r"synth tvae: training diverged at step 3 \(loss=nan\)"
            if case == "tvae"
            else r"synth tvae: training diverged at step 3 \(noisy_grad_norm=nan\)"
        )
    rec = Recorder()
    synth, args = _synth(case)
    with pytest.raises(TrainingDivergedError, match=match) as info:
        synth.fit(frame, **args, callbacks=[rec])
    assert info.value.step == 3
    assert [c[0] for c in rec.calls] == ["start", "step", "step", "end"]
    with pytest.raises(RuntimeError, match="call fit"):  # a failed fit leaves nothing half-fitted
        synth.sample(10)


@pytest.mark.parametrize("case", ["tvae", "ctgan", "dp"])
def test_early_stopping_ends_the_fit_early(case: str, frame: pd.DataFrame) -> None:
    monitor = sorted(LOSS_KEYS[case])[0]
    rec = Recorder()
    synth = _fit(frame, case, callbacks=[EarlyStopping(monitor, patience=2, min_delta=1e9), rec])
    assert len(rec.steps()) == 3 and rec.calls[-1][0] == "end"
    assert len(synth.sample(20, seed=0)) == 20
    if case == "dp":  # the accounting covers the steps taken
        assert synth.fit_info["privacy"]["steps"] == 3
    else:
        assert set(synth.fit_info["final_losses"]) == LOSS_KEYS[case]


def test_the_fit_runs_with_the_thread_count_and_restores_it(frame: pd.DataFrame) -> None:
    before = torch.get_num_threads()
    rec = Recorder()
    synth = Synthesizer("tvae", num_threads=2, **SMALL).fit(frame, callbacks=[rec])
    assert rec.threads == {2} and synth.fit_info["threads"] == 2
    assert torch.get_num_threads() == before


def test_bad_callbacks_or_progress(frame: pd.DataFrame) -> None:
    synth = Synthesizer("tvae", **SMALL)
    with pytest.raises(ValueError, match="callbacks must be a list"):
        synth.fit(frame, callbacks=Recorder())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="progress must be"):
        synth.fit(frame, progress="yes")  # type: ignore[arg-type]
