"""Hooks are dispatched by pluggy itself (ordering, wrappers, firstresult as in pytest), with
each implementation isolated so one failing plugin is quarantined and the rest go on."""

from __future__ import annotations

import logging
import signal
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from aigc_sdk.hookspecs import PROJECT_NAME, hookimpl
from aigc_sdk.plugins import PluginHost
from aigc_sdk.registry import Registry, call_lifecycle_hook


def _step(step: int = 1) -> list[Any]:
    return call_lifecycle_hook("on_train_step_end", trainer=None, model=None, step=step, metrics={})


def _status(registry: Registry, name: str) -> str:
    return registry.host.plugins[name].status


def test_tryfirst_and_trylast_order_the_calls(aigc_empty_registry: Registry) -> None:
    calls: list[str] = []

    class Plain:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            calls.append("plain")

    class Last:
        @hookimpl(trylast=True)
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            calls.append("last")

    class First:
        @hookimpl(tryfirst=True)
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            calls.append("first")

    for plugin in (Last(), Plain(), First()):
        aigc_empty_registry.host.register(plugin)
    assert _step() == []
    assert calls == ["first", "plain", "last"]


def test_new_style_wrapper_runs_around_the_other_implementations(aigc_empty_registry: Registry) -> None:
    calls: list[str] = []

    class Inner:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            calls.append(f"inner {step}")

    class Wrapper:
        @hookimpl(wrapper=True)
        def on_train_step_end(self, trainer, model, step, metrics) -> Generator[None, Any, Any]:  # type: ignore[no-untyped-def]
            calls.append("before")
            result = yield
            calls.append(f"after {result}")
            return result

    aigc_empty_registry.host.register(Inner())
    aigc_empty_registry.host.register(Wrapper())
    _step(7)
    assert calls == ["before", "inner 7", "after []"]


def test_old_style_hookwrapper_sees_the_registrations(aigc_empty_registry: Registry) -> None:
    seen: list[list[str]] = []

    class Models:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register("toy", "toy_module:Toy")

    class Watcher:
        @hookimpl(hookwrapper=True)
        def register_models(self, register):  # type: ignore[no-untyped-def]
            outcome = yield
            outcome.get_result()
            seen.append(sorted(e.name for es in register.by_plugin.values() for e in es))

    aigc_empty_registry.host.register(Models())
    aigc_empty_registry.host.register(Watcher())
    assert aigc_empty_registry.list_names("model") == ["toy"]
    assert seen == [["toy"]]


def test_a_failing_wrapper_is_quarantined_and_the_call_goes_on(aigc_empty_registry: Registry) -> None:
    calls: list[int] = []

    class Inner:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            calls.append(step)

    class BadBefore:
        @hookimpl(wrapper=True)
        def on_train_step_end(self, trainer, model, step, metrics) -> Generator[None, Any, Any]:  # type: ignore[no-untyped-def]
            raise RuntimeError("broken before yield")
            yield  # pragma: no cover

    class BadAfter:
        @hookimpl(hookwrapper=True)
        def on_train_step_end(self, trainer, model, step, metrics) -> Generator[None, Any, None]:  # type: ignore[no-untyped-def]
            yield
            raise SystemExit("broken after yield")

    for plugin in (Inner(), BadBefore(), BadAfter()):
        aigc_empty_registry.host.register(plugin)
    failures = _step(1)
    assert sorted(f.plugin for f in failures) == ["BadAfter", "BadBefore"]
    assert _status(aigc_empty_registry, "BadBefore") == "quarantined"
    assert _status(aigc_empty_registry, "BadAfter") == "quarantined"
    assert "broken before yield" in (aigc_empty_registry.host.plugins["BadBefore"].error or "")
    _step(2)
    assert calls == [1, 2]


def test_firstresult_skips_a_failing_implementation() -> None:
    class Specs:
        @pluggy.HookspecMarker(PROJECT_NAME)(firstresult=True)
        def pick_one(self) -> Any:
            """A firstresult hook (test only)."""

    class Broken:
        @hookimpl(tryfirst=True)
        def pick_one(self) -> Any:
            raise ValueError("no")

    class Answer:
        @hookimpl
        def pick_one(self) -> Any:
            return 42

    class Later:
        @hookimpl(trylast=True)
        def pick_one(self) -> Any:
            raise AssertionError("firstresult must stop before this one")

    host = PluginHost()
    host.pm.add_hookspecs(Specs)
    for plugin in (Later(), Answer(), Broken()):
        host.register(plugin)
    result, failures = host.call_hook("pick_one")
    assert result == 42
    assert [f.plugin for f in failures] == ["Broken"]
    assert host.plugins["Later"].status == "loaded"


def test_a_misspelt_hook_is_reported(aigc_empty_registry: Registry) -> None:
    class Typo:
        @hookimpl
        def register_model(self, register):  # type: ignore[no-untyped-def]
            register("never", "x:y")

    class Deliberate:
        @hookimpl(optionalhook=True)
        def some_other_hosts_hook(self) -> None:
            pass

    info = aigc_empty_registry.host.register(Typo())
    assert info.status == "quarantined" and info.stage == "validate"
    assert "'register_model'" in (info.error or "") and "did you mean 'register_models'" in (info.error or "")
    assert aigc_empty_registry.host.register(Deliberate()).status == "loaded"
    assert aigc_empty_registry.list_names("model") == []


def test_a_plugin_failing_half_way_through_registering_contributes_nothing(
    aigc_empty_registry: Registry,
) -> None:
    class HalfWay:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register("first", "m:First")
            raise RuntimeError("second model broke")

    class Fine:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register("fine", "m:Fine")

    aigc_empty_registry.host.register(HalfWay())
    aigc_empty_registry.host.register(Fine())
    assert aigc_empty_registry.list_names("model") == ["fine"]
    info = aigc_empty_registry.host.plugins["HalfWay"]
    assert info.status == "quarantined" and info.stage == "register_models"


def test_keyboard_interrupt_raised_by_a_plugin_is_contained_only_under_the_cli_handler(
    aigc_empty_registry: Registry,
) -> None:
    class Interrupter:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt

    aigc_empty_registry.host.register(Interrupter())
    # Outside the aigc command a KeyboardInterrupt is the user's: it must stop the program.
    with pytest.raises(KeyboardInterrupt):
        _step()
    from aigc_sdk.cli import _mark_user_interrupts

    previous = _mark_user_interrupts()
    try:
        failures = _step()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [f.plugin for f in failures] == ["Interrupter"]
    assert _status(aigc_empty_registry, "Interrupter") == "quarantined"


def test_tracing_covers_lifecycle_hooks(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    monkeypatch.setenv("AIGC_SDK_TRACE_PLUGINS", "1")

    class Logger:
        @hookimpl
        def on_fit_end(self, trainer, model, metrics):  # type: ignore[no-untyped-def]
            pass

    host = PluginHost()
    host.register(Logger())
    with caplog.at_level(logging.WARNING, logger="aigc_sdk.plugins"):
        host.call_hook("on_fit_end", trainer=None, model=None, metrics={"loss": 1.0})
    assert any("on_fit_end" in r.getMessage() for r in caplog.records)


def test_a_failing_lifecycle_plugin_gets_a_checkpoint_and_a_name(
    aigc_registry: Registry, tmp_path: Path, caplog: Any
) -> None:
    import torch
    from torch.utils.data import TensorDataset

    import aigc_sdk
    from aigc_sdk.training import Trainer

    class Crasher:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            if step == 3:
                raise RuntimeError("disk logger crashed")

    aigc_registry.host.register(Crasher())
    model = aigc_sdk.create_model("ae", data_shape=[6], hidden=8, latent_dim=2)
    with caplog.at_level(logging.WARNING, logger="aigc_sdk.training"):
        Trainer(
            model, TensorDataset(torch.rand(32, 6)), steps=5, batch_size=8, out_dir=tmp_path, progress=False
        ).fit()
    assert (tmp_path / "checkpoints" / "step-00000003").is_dir()  # saved at the failing step
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "'Crasher'" in messages and "disk logger crashed" in messages and "step 3" in messages
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 5
