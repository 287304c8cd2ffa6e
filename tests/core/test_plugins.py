"""Plugin discovery, fault isolation, allow/block lists, API checks and conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigc_sdk.errors import PluginConflictError, PluginLoadError, UnknownNameError
from aigc_sdk.hookspecs import hookimpl
from aigc_sdk.registry import Registry, call_lifecycle_hook

from .conftest import aigc_json, make_distribution, run_py

GOOD = """
from aigc_sdk import hookimpl

@hookimpl
def register_models(register):
    register("toy", "toy_impl:make", summary="toy model", family="toy")
"""
FIRST_PARTY_MODELS = "import aigc_sdk, json; print(json.dumps(aigc_sdk.list_models()))"


def test_broken_plugin_is_quarantined_and_others_keep_working(site: Path) -> None:
    baseline = json.loads(run_py(FIRST_PARTY_MODELS).stdout)
    make_distribution(
        site,
        "aigc-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise ImportError('this plugin needs libfoo, which is missing')\n"},
    )
    report = aigc_json(["plugins"], site)
    broken = [p for p in report["plugins"] if p["name"] == "broken"]
    assert broken and broken[0]["status"] == "quarantined"
    assert broken[0]["stage"] == "import"
    assert "libfoo" in broken[0]["error"]
    assert broken[0]["distribution"] == "aigc-broken"
    assert report["quarantined"] == ["broken"] or "broken" in report["quarantined"]
    # every first-party model is still listed
    proc = run_py(FIRST_PARTY_MODELS, site)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == baseline
    assert "quarantined" in proc.stderr  # reported once, not silently swallowed


def test_doctor_reports_quarantined_plugins(site: Path) -> None:
    make_distribution(site, "aigc-broken", {"broken": "broken_plugin"}, {"broken_plugin": "1 / 0\n"})
    report = aigc_json(["doctor"], site)
    assert "ZeroDivisionError" in report["quarantined"]["broken"]
    assert report["ops_backend"]  # the doctor always reports the kernel backend
    assert report["aigc_sdk"]


def test_plugin_raising_during_registration_is_quarantined() -> None:
    # evaluators: a kind whose factories may return anything (models must return a GenerativeModel)
    class Bad:
        @hookimpl
        def register_evaluators(self, register):  # type: ignore[no-untyped-def]
            register("half-registered", lambda: None)
            raise RuntimeError("boom while registering")

    class Good:
        @hookimpl
        def register_evaluators(self, register):  # type: ignore[no-untyped-def]
            register("fine", lambda **cfg: ("built", cfg))

    reg = Registry(autoload=False)
    reg.host.register(Bad())
    reg.host.register(Good())
    assert reg.list_names("evaluator") == ["fine"]  # the bad plugin's partial registration is dropped
    assert reg.create("evaluator", "fine", a=1) == ("built", {"a": 1})
    (bad,) = reg.host.quarantined()
    assert bad.name == "Bad" and bad.stage == "register_evaluators"
    assert "boom while registering" in bad.error and "RuntimeError" in bad.traceback


def test_same_name_from_two_plugins_is_an_error_naming_both(site: Path) -> None:
    for dist, mod in (("aigc-alpha", "alpha_plugin"), ("aigc-beta", "beta_plugin")):
        make_distribution(
            site, dist, {mod.split("_")[0]: mod}, {mod: GOOD, "toy_impl": "def make(): return 1\n"}
        )
    proc = run_py(
        """
        import aigc_sdk
        try:
            aigc_sdk.create_model("toy")
        except aigc_sdk.PluginConflictError as e:
            print("CONFLICT", e)
        from aigc_sdk.registry import default_registry
        print(default_registry().get("model", "beta:toy").resolve()())
        """,
        site,
    )
    assert proc.returncode == 0, proc.stderr
    assert "CONFLICT" in proc.stdout
    assert "aigc-alpha" in proc.stdout and "aigc-beta" in proc.stdout
    assert proc.stdout.strip().endswith("1")  # the qualified name still works


def test_same_entry_point_name_in_two_distributions_is_not_silently_dropped(site: Path) -> None:
    make_distribution(
        site, "aigc-one", {"dup": "one_plugin"}, {"one_plugin": GOOD, "toy_impl": "make = int\n"}
    )
    make_distribution(site, "aigc-two", {"dup": "two_plugin"}, {"two_plugin": GOOD})
    report = aigc_json(["plugins"], site)
    dups = [p for p in report["plugins"] if p["name"].startswith("dup")]
    assert len(dups) == 2
    quarantined = [p for p in dups if p["status"] == "quarantined"]
    assert len(quarantined) == 1 and quarantined[0]["stage"] == "conflict"
    assert "aigc-one" in quarantined[0]["error"] and "aigc-two" in quarantined[0]["error"]


def test_allow_and_block_lists(site: Path) -> None:
    make_distribution(
        site, "aigc-toy", {"toy": "toy_plugin"}, {"toy_plugin": GOOD, "toy_impl": "make = int\n"}
    )
    only = aigc_json(["plugins", "--all"], site, {"AIGC_SDK_PLUGINS": "toy"})
    status = {p["name"]: p["status"] for p in only["plugins"]}
    assert status["toy"] == "loaded"
    assert {s for n, s in status.items() if n != "toy"} == {"skipped"}
    blocked = aigc_json(["plugins", "--all"], site, {"AIGC_SDK_DISABLE_PLUGINS": "toy"})
    status = {p["name"]: p["status"] for p in blocked["plugins"]}
    assert status["toy"] == "blocked"
    assert "loaded" in set(status.values())  # first-party plugins still load
    proc = run_py(
        "import aigc_sdk; print(aigc_sdk.list_models(family='toy'))",
        site,
        {"AIGC_SDK_DISABLE_PLUGINS": "toy"},
    )
    assert proc.stdout.strip() == "[]"


def test_incompatible_api_range_is_skipped_with_reason(site: Path) -> None:
    future = GOOD + '\nAIGC_SDK_API = ">=2,<3"\n'
    make_distribution(site, "aigc-future", {"future": "future_plugin"}, {"future_plugin": future})
    report = aigc_json(["plugins", "--all"], site)
    (future_info,) = [p for p in report["plugins"] if p["name"] == "future"]
    assert future_info["status"] == "skipped" and future_info["stage"] == "api-version"
    assert ">=2,<3" in future_info["error"] and "1.0" in future_info["error"]


def test_trace_logs_hook_calls(site: Path) -> None:
    make_distribution(
        site, "aigc-toy", {"toy": "toy_plugin"}, {"toy_plugin": GOOD, "toy_impl": "make = int\n"}
    )
    proc = run_py("import aigc_sdk; aigc_sdk.list_models()", site, {"AIGC_SDK_TRACE_PLUGINS": "1"})
    assert "trace: register_models(toy)" in proc.stderr


def test_unknown_name_lists_available_and_closest() -> None:
    class P:
        @hookimpl
        def register_evaluators(self, register):  # type: ignore[no-untyped-def]
            register("frechet", lambda: 0)
            register("kernel", lambda: 0)

    reg = Registry(autoload=False)
    reg.host.register(P())
    with pytest.raises(UnknownNameError) as err:
        reg.create("evaluator", "frechett")
    msg = str(err.value)
    assert "'frechet'" in msg and "Did you mean" in msg and "kernel" in msg
    assert isinstance(err.value, KeyError)


def test_lazy_target_that_fails_to_import_names_its_plugin() -> None:
    class P:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register("ghost", "no_such_module_xyz:Model")

    reg = Registry(autoload=False)
    reg.host.register(P())
    assert reg.list_names("model") == ["ghost"]  # listing never imports the target
    with pytest.raises(PluginLoadError, match=r"model 'ghost' from plugin 'P'.*no_such_module_xyz"):
        reg.create("model", "ghost")


def test_conflict_error_in_process() -> None:
    class A:
        @hookimpl
        def register_evaluators(self, register):  # type: ignore[no-untyped-def]
            register("same", lambda: "a")

    class B:
        @hookimpl
        def register_evaluators(self, register):  # type: ignore[no-untyped-def]
            register("same", lambda: "b")

    reg = Registry(autoload=False)
    reg.host.register(A())
    reg.host.register(B())
    with pytest.raises(PluginConflictError, match=r"'A'.*'B'|'B'.*'A'"):
        reg.create("evaluator", "same")
    assert reg.create("evaluator", "B:same") == "b"
    assert sorted(reg.list_names("evaluator")) == ["A:same", "B:same"]


@pytest.mark.parametrize(
    ("name", "target", "error"),
    [
        ("", "m:a", ValueError),
        ("a:b", "m:a", ValueError),
        ("ok", "no-colon", TypeError),
        ("ok", 3, TypeError),
    ],
)
def test_registrar_rejects_bad_registrations(name: object, target: object, error: type) -> None:
    class P:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register(name, target)

    reg = Registry(autoload=False)
    reg.host.register(P())
    assert reg.list_names("model") == []
    (q,) = reg.host.quarantined()
    assert error.__name__ in q.error


def test_lifecycle_hook_errors_quarantine_the_plugin(aigc_registry: Registry) -> None:
    calls: list[int] = []

    class Flaky:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            raise RuntimeError("logger crashed")

    class Logger:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            calls.append(step)

    aigc_registry.host.register(Flaky())
    aigc_registry.host.register(Logger())
    for step in range(3):
        call_lifecycle_hook("on_train_step_end", trainer=None, model=None, step=step, metrics={})
    assert calls == [0, 1, 2]
    assert [q.name for q in aigc_registry.host.quarantined() if q.name == "Flaky"] == ["Flaky"]
