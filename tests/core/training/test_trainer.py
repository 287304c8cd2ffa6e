"""Trainer: exact resume, checkpoints, logging, callbacks, divergence, bad arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
import torch
from torch.utils.data import TensorDataset

import aigc_sdk
from aigc_sdk.training import Callback, Trainer, TrainingDivergedError, list_checkpoints
from aigc_sdk.training.checkpoint import flatten_optimizer_state, unflatten_optimizer_state


def _data(n: int = 48, shape: tuple[int, ...] = (1, 8, 8)) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(n, *shape, generator=g), torch.arange(n) % 3)


def _model(name: str = "cgan", seed: int = 0, **cfg):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    base = {"channels": 8, "hidden": 16} if name in ("cgan", "cvae", "gan", "vae", "ae") else {}
    extra = {"num_classes": 3} if name in ("cgan", "cvae") else {}
    return aigc_sdk.create_model(name, data_shape=[1, 8, 8], **extra, **base, **cfg)


def _params_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("name", "cfg"), [("cgan", {"r1_gamma": 1.0, "r1_every": 2, "d_dropout": 0.1}), ("cvae", {}), ("dae", {})]
)
def test_straight_equals_half_resume_half_bitwise(tmp_path, name, cfg) -> None:
    data = _data()
    straight = _model(name, **cfg)
    Trainer(straight, data, steps=8, batch_size=16, seed=3, deterministic=True, progress=False).fit()

    first = _model(name, **cfg)
    Trainer(
        first, data, steps=4, batch_size=16, seed=3, out_dir=tmp_path, deterministic=True, progress=False
    ).fit()
    # A fresh process would start from a different initialisation and RNG state: resume must fix both.
    torch.manual_seed(1234)
    resumed = _model(name, seed=99, **cfg)
    torch.rand(10)
    tr = Trainer(
        resumed,
        data,
        steps=8,
        batch_size=16,
        seed=3,
        out_dir=tmp_path,
        deterministic=True,
        resume=True,
        progress=False,
    )
    tr.fit()
    assert tr.step == 8
    assert _params_equal(straight, resumed)


def test_checkpoints_are_complete_pruned_and_loadable(tmp_path) -> None:
    seen: list[tuple[str, int]] = []

    class Spy(Callback):
        def on_fit_start(self, trainer, model) -> None:  # type: ignore[no-untyped-def]
            seen.append(("start", trainer.step))

        def on_train_step_end(self, trainer, model, step: int, metrics: Mapping[str, float]) -> None:  # type: ignore[no-untyped-def]
            assert "d_loss" in metrics
            seen.append(("step", step))

        def on_checkpoint_saved(self, trainer, model, step: int, path: str) -> None:  # type: ignore[no-untyped-def]
            assert (tmp_path / "checkpoints" / f"step-{step:08d}" / "trainer_state.json").is_file()
            seen.append(("ckpt", step))

        def on_fit_end(self, trainer, model, metrics) -> None:  # type: ignore[no-untyped-def]
            seen.append(("end", int(metrics["steps"])))

    model = _model()
    Trainer(
        model,
        _data(),
        steps=10,
        batch_size=16,
        out_dir=tmp_path,
        checkpoint_every=3,
        keep_last=2,
        sample_every=5,
        callbacks=[Spy()],
        progress=False,
    ).fit()
    steps = [s for s, _ in list_checkpoints(tmp_path / "checkpoints")]
    assert steps == [9, 10]
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]
    assert seen[0] == ("start", 0) and seen[-1] == ("end", 10)
    assert [s for k, s in seen if k == "ckpt"] == [3, 6, 9, 10]
    loaded = aigc_sdk.load(tmp_path / "checkpoints" / "step-00000010")
    assert _params_equal(loaded, model)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step-00000005.png",
        "step-00000010.png",
    ]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 11))
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "step" and "d_loss" in header


def test_optimizer_state_roundtrip_without_pickle() -> None:
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1, betas=(0.5, 0.9))
    p.grad = torch.ones(3)
    opt.step()
    tensors, doc = flatten_optimizer_state("g", opt.state_dict())
    doc = json.loads(json.dumps(doc))  # must survive JSON
    opt2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=1.0)
    opt2.load_state_dict(unflatten_optimizer_state(doc, tensors))
    assert opt2.param_groups[0]["betas"] == (0.5, 0.9) and opt2.param_groups[0]["lr"] == 0.1
    torch.testing.assert_close(
        opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )


class _Exploding(Callback):
    """Poisons the parameters after step 5 so step 6 reports NaN."""

    def on_train_step_end(self, trainer, model, step, metrics) -> None:  # type: ignore[no-untyped-def]
        if step == 5:
            with torch.no_grad():
                for p in model.parameters():
                    p.fill_(float("nan"))


def test_divergence_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path) -> None:
    model = _model("cvae")
    trainer = Trainer(
        model,
        _data(),
        steps=20,
        batch_size=16,
        out_dir=tmp_path,
        checkpoint_every=4,
        callbacks=[_Exploding()],
        progress=False,
    )
    with pytest.raises(TrainingDivergedError, match=r"diverged at step 6 .*loss=nan.*step-00000004") as info:
        trainer.fit()
    assert info.value.last_checkpoint is not None and info.value.last_checkpoint.name == "step-00000004"
    assert [s for s, _ in list_checkpoints(tmp_path / "checkpoints")] == [4]
    good = aigc_sdk.load(info.value.last_checkpoint)
    assert all(torch.isfinite(p).all() for p in good.parameters())
    resumed = _model("cvae")
    tr = Trainer(resumed, _data(), steps=6, batch_size=16, out_dir=tmp_path, resume=True, progress=False)
    tr.fit()
    assert tr.step == 6


def test_bf16_and_grad_clip(tmp_path) -> None:
    model = _model("cvae")
    metrics = Trainer(
        model, _data(), steps=3, batch_size=16, precision="bf16", grad_clip=0.5, progress=False
    ).fit()
    assert "grad_norm_vae" in metrics
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"steps": -1}, "steps"),
        ({"steps": 2, "batch_size": 0}, "batch_size"),
        ({"steps": 2, "batch_size": 1000}, "batch_size"),
        ({"steps": 2, "precision": "fp8"}, "precision"),
        ({"steps": 2, "grad_clip": -1.0}, "grad_clip"),
        ({"steps": 2, "checkpoint_every": 5}, "out_dir"),
        ({"steps": 2, "keep_last": 0}, "keep_last"),
    ],
)
def test_bad_trainer_arguments(kwargs, arg) -> None:
    with pytest.raises(ValueError, match=arg):
        Trainer(_model("ae"), _data(), progress=False, **kwargs).fit()


def test_bad_data_and_model() -> None:
    with pytest.raises(ValueError, match="data"):
        Trainer(_model("ae"), [1, 2, 3], steps=1)
    with pytest.raises(ValueError, match="model"):
        Trainer(torch.nn.Linear(2, 2), _data(), steps=1)  # type: ignore[arg-type]


def test_data_order_is_a_function_of_seed_and_step() -> None:
    t1 = Trainer(_model("ae"), _data(), steps=1, batch_size=16, seed=5)
    t2 = Trainer(_model("ae"), _data(), steps=1, batch_size=16, seed=5)
    assert torch.equal(t1.batch_indices(7), t2.batch_indices(7))
    epoch = torch.cat([t1.batch_indices(s) for s in range(3)])
    assert sorted(epoch.tolist()) == list(range(48))  # one epoch visits every sample once
