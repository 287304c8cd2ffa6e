"""Trainer basics: log_every, CSV columns, LR schedules, gradient accumulation, fp16 loss
scaling, compile, channels_last, early stopping, TensorBoard and DataLoader workers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import aigc_sdk
from aigc_sdk.training import EarlyStopping, Trainer
from aigc_sdk.training.schedules import lr_factor


def _ae() -> Any:
    torch.manual_seed(0)
    return aigc_sdk.create_model("ae", data_shape=[6], hidden=16, latent_dim=3)


def _vectors(n: int = 64) -> TensorDataset:
    return TensorDataset(torch.rand(n, 6, generator=torch.Generator().manual_seed(1)))


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _params(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("code_")}


def _fit(model: Any, data: Any, **kw: Any) -> dict[str, float]:
    kw.setdefault("batch_size", 16)
    return Trainer(model, data, progress=False, deterministic=True, **kw).fit()


def test_log_every_writes_every_nth_row_and_the_last(tmp_path: Path) -> None:
    _fit(_ae(), _vectors(), steps=12, log_every=5, out_dir=tmp_path)
    assert [r["step"] for r in _rows(tmp_path)] == [5, 10, 12]
    with (tmp_path / "metrics.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [5, 10, 12]


def test_csv_keeps_keys_that_appear_after_the_first_row(tmp_path: Path) -> None:
    torch.manual_seed(0)
    gan = aigc_sdk.create_model("gan", data_shape=[4], hidden=8, latent_dim=2, n_critic=2)
    _fit(gan, TensorDataset(torch.rand(64, 4)), steps=4, out_dir=tmp_path)
    rows = _rows(tmp_path)
    assert "g_loss" not in rows[0] and "g_loss" in rows[1]  # the generator steps every other step
    with (tmp_path / "metrics.csv").open() as fh:
        reader = csv.DictReader(fh)
        table = list(reader)
        assert "g_loss" in (reader.fieldnames or [])
    assert [r["g_loss"] != "" for r in table] == ["g_loss" in r for r in rows]


def test_lr_schedule_follows_the_formula(tmp_path: Path) -> None:
    model = _ae()
    _fit(
        model, _vectors(), steps=10, lr_schedule="cosine", warmup_steps=3, min_lr_ratio=0.1, out_dir=tmp_path
    )
    base = model.configure_optimizers()["ae"].param_groups[0]["lr"]
    logged = [r["lr_ae"] for r in _rows(tmp_path)]
    expected = [base * lr_factor("cosine", s, 10, 3, 0.1) for s in range(10)]
    assert logged == pytest.approx(expected, rel=1e-9)
    assert logged[0] < logged[2] < logged[3] and logged[3] == pytest.approx(base)  # warm-up, then peak
    assert logged[-1] == pytest.approx(0.1 * base)
    assert lr_factor("linear", 5, 11) == pytest.approx(0.5)


def test_lr_schedule_resumes_exactly(tmp_path: Path) -> None:
    opts: dict[str, Any] = {"lr_schedule": "linear", "warmup_steps": 2, "checkpoint_every": 3}
    straight = _ae()
    _fit(straight, _vectors(), steps=8, out_dir=tmp_path / "a", **opts)

    class StopAt4:  # an interrupted 8-step run: its schedule is the 8-step one
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            if step == 4:
                trainer.request_stop("interrupted")

    resumed = _ae()
    _fit(resumed, _vectors(), steps=8, out_dir=tmp_path / "b", callbacks=[StopAt4()], **opts)
    resumed = _ae()
    _fit(resumed, _vectors(), steps=8, out_dir=tmp_path / "b", resume=True, **opts)
    for k, v in _params(straight).items():
        assert torch.equal(v, _params(resumed)[k]), k


def test_gradient_accumulation_matches_one_big_batch() -> None:
    big, small = _ae(), _ae()
    _fit(big, _vectors(), steps=6, batch_size=32)
    sizes: list[int] = []
    step_fn = small.training_step

    def counting(batch, optimizers, step):  # type: ignore[no-untyped-def]
        sizes.append(len(batch[0]))
        return step_fn(batch, optimizers, step)

    small.training_step = counting  # type: ignore[method-assign]
    _fit(small, _vectors(), steps=6, batch_size=32, accumulate=4)
    assert sizes == [8] * 24  # four micro-batches of 8 per step
    for k, v in _params(big).items():
        torch.testing.assert_close(_params(small)[k], v, rtol=1e-5, atol=1e-6, msg=k)
    with pytest.raises(ValueError, match="divisible by accumulate=3"):
        Trainer(_ae(), _vectors(), steps=1, batch_size=16, accumulate=3)


def test_gradient_accumulation_trains_a_gan() -> None:
    torch.manual_seed(0)
    gan = aigc_sdk.create_model("gan", data_shape=[4], hidden=8, latent_dim=2)
    out = _fit(gan, TensorDataset(torch.rand(64, 4)), steps=3, batch_size=16, accumulate=2)
    assert math.isfinite(out["d_loss"]) and math.isfinite(out["g_loss"])


def test_fp16_scales_the_loss_and_resumes_the_scale(tmp_path: Path) -> None:
    model = _ae()
    out = _fit(model, _vectors(), steps=3, precision="fp16", out_dir=tmp_path)
    assert math.isfinite(out["loss"]) and out["loss_scale"] > 1.0
    state = json.loads((tmp_path / "checkpoints" / "step-00000003" / "trainer_state.json").read_text())
    assert state["grad_scaler"]["scale"] == out["loss_scale"]
    trainer = Trainer(
        _ae(),
        _vectors(),
        steps=4,
        batch_size=16,
        precision="fp16",
        out_dir=tmp_path,
        resume=True,
        progress=False,
    )
    trainer.fit()
    assert trainer.scaler is not None and trainer.step == 4


def test_fp16_refuses_a_model_that_does_not_scale_its_loss() -> None:
    model = _ae()
    original = model.training_step

    def unscaled(batch, optimizers, step):  # type: ignore[no-untyped-def]
        class Plain:
            def __init__(self, managed: Any) -> None:
                self.managed = managed

            def __getattr__(self, name: str) -> Any:
                return getattr(self.managed, name if name != "backward" else "_no_such_method")

        return original(batch, {k: Plain(v) for k, v in optimizers.items()}, step)

    model.training_step = unscaled  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match=r"backward\(loss\)"):
        _fit(model, _vectors(), steps=1, precision="fp16")


def test_compile_compiles_each_network_in_place() -> None:
    torch.manual_seed(0)
    gan = aigc_sdk.create_model("gan", data_shape=[4], hidden=8, latent_dim=2)
    keys = set(gan.state_dict())
    out = _fit(gan, TensorDataset(torch.rand(64, 4)), steps=2, compile={"backend": "eager"})
    assert math.isfinite(out["d_loss"])
    assert gan.generator._compiled_call_impl is not None
    assert gan.discriminator._compiled_call_impl is not None
    assert set(gan.state_dict()) == keys  # saves stay loadable without compile


def test_channels_last_keeps_conv_weights_channels_last() -> None:
    torch.manual_seed(0)
    vae = aigc_sdk.create_model("vae", data_shape=[3, 16, 16], latent_dim=4)
    data = TensorDataset(torch.rand(32, 3, 16, 16))
    out = _fit(vae, data, steps=2, channels_last=True)
    assert math.isfinite(out["loss"])
    convs = [m.weight for m in vae.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not convs[0].is_contiguous()  # really channels-last, not also plain contiguous


def test_early_stopping_ends_the_run_normally(tmp_path: Path) -> None:
    stopper = EarlyStopping("loss", patience=3, min_delta=1e9)  # nothing counts as progress
    trainer = Trainer(
        _ae(), _vectors(), steps=50, batch_size=16, out_dir=tmp_path, callbacks=[stopper], progress=False
    )
    out = trainer.fit()
    assert trainer.step == 4 and out["stopped_early"] == 1.0
    assert trainer.stop_reason is not None and "loss did not improve" in trainer.stop_reason
    assert (tmp_path / "checkpoints" / "step-00000004").is_dir()
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping("loss", mode="lowest")


def test_early_stopping_reads_quality_measurements() -> None:
    class FakeQuality:
        def __init__(self) -> None:
            self.history: list[dict[str, Any]] = []

        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            if step % 2 == 0:
                self.history.append({"step": step, "fid": 10.0 + step})  # worse each time

    trainer = Trainer(
        _ae(),
        _vectors(),
        steps=50,
        batch_size=16,
        callbacks=[FakeQuality(), EarlyStopping("fid", patience=2)],
        progress=False,
    )
    trainer.fit()
    assert trainer.step == 6  # measured at 2 (best), 4 and 6 (no progress twice)


def test_tensorboard_writes_events_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorboard")
    _fit(_ae(), _vectors(), steps=2, out_dir=tmp_path / "tb", tensorboard=True)
    assert any((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
    _fit(_ae(), _vectors(), steps=2, out_dir=tmp_path / "plain")
    assert not (tmp_path / "plain" / "tensorboard").exists()
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match=r"aigc-sdk\[tensorboard\]"):
        Trainer(_ae(), _vectors(), steps=1, out_dir=tmp_path / "x", tensorboard=True)


class _MapStyle(Dataset):  # type: ignore[type-arg]
    """Not a TensorDataset: samples are built on access (as a streaming image folder is)."""

    def __init__(self, n: int, in_worker: bool = False) -> None:
        self.x = torch.rand(n, 6, generator=torch.Generator().manual_seed(2))
        self.in_worker = in_worker

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor]:
        if self.in_worker and torch.utils.data.get_worker_info() is None:
            raise AssertionError("expected to be loaded in a DataLoader worker")
        return (self.x[i].clone(),)


def test_dataloader_workers_do_not_change_the_run(tmp_path: Path) -> None:
    in_process, workers = _ae(), _ae()
    _fit(in_process, _MapStyle(80), steps=7)
    _fit(workers, _MapStyle(80, True), steps=4, num_workers=2, out_dir=tmp_path, checkpoint_every=4)
    workers = _ae()
    _fit(
        workers, _MapStyle(80, True), steps=7, num_workers=2, prefetch_factor=3, out_dir=tmp_path, resume=True
    )
    for k, v in _params(in_process).items():
        assert torch.equal(v, _params(workers)[k]), k
    with pytest.raises(ValueError, match="prefetch_factor needs num_workers"):
        Trainer(_ae(), _MapStyle(8), steps=1, prefetch_factor=2)


def test_sample_is_bitwise_for_one_batch_size_and_close_across_batch_sizes() -> None:
    torch.manual_seed(0)
    gan = aigc_sdk.create_model("cgan", dataset="digits")

    def draw(batch_size: int) -> torch.Tensor:
        return gan.sample(100, generator=torch.Generator().manual_seed(3), batch_size=batch_size)

    assert torch.equal(draw(7), draw(7))
    torch.testing.assert_close(draw(7), draw(1024), rtol=0, atol=1e-6)
