"""CLI output, import cost, and hook documentation."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pluggy

from aigc_sdk import hookspecs

from .conftest import aigc_json, run_py

ROOT = Path(__file__).resolve().parents[2]


def _hooks() -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return [n for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, marker)]


def test_every_hook_is_documented() -> None:
    hooks = _hooks()
    assert "register_models" in hooks and "on_fit_end" in hooks
    docs = (ROOT / "docs" / "plugins.md").read_text()
    documented = set(re.findall(r"^### `(\w+)`", docs, flags=re.M))
    missing = sorted(set(hooks) - documented)
    assert not missing, f"hooks without a section in docs/plugins.md: {missing}"
    for name in hooks:
        assert inspect.getdoc(getattr(hookspecs, name)), f"hook {name} has no docstring"


def test_hookspecs_are_valid_pluggy_specs() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    assert set(_hooks()) <= {n for n in dir(pm.hook) if not n.startswith("_")}


def test_import_and_help_do_not_import_torch_or_model_code() -> None:
    proc = run_py(
        """
        import sys, json, time
        t0 = time.perf_counter()
        import aigc_sdk
        t1 = time.perf_counter()
        from aigc_sdk.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        t2 = time.perf_counter()
        heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "aigc_gan.",
                       "aigc_vae.", "aigc_ae.", "aigc_metrics.", "aigc_datasets.")))
        print(json.dumps({"heavy": heavy, "import_s": t1 - t0, "help_s": t2 - t1}))
        """
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], result["heavy"]


def test_plugins_json_is_valid_and_lists_first_party_plugins() -> None:
    report = aigc_json(["plugins"])
    names = {p["name"] for p in report["plugins"]}
    assert {"datasets", "gan", "vae", "ae", "metrics"} <= names
    for p in report["plugins"]:
        assert p["status"] == "loaded", p
        assert p["distribution"] == "aigc-sdk"
    datasets = next(p for p in report["plugins"] if p["name"] == "datasets")
    assert "mnist5k" in datasets["registered"]["dataset"]
    json.dumps(report)


def test_plugins_table_and_help_exit_codes() -> None:
    proc = run_py("import sys; from aigc_sdk.cli import main; sys.exit(main(['plugins']))")
    assert proc.returncode == 0 and "datasets" in proc.stdout
    proc = run_py("import sys; from aigc_sdk.cli import main; sys.exit(main([]))")
    assert proc.returncode == 2 and "usage: aigc" in proc.stdout
