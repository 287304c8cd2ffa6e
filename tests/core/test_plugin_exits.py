"""A plugin that calls sys.exit in every hook is contained: the host keeps working and names it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aigc_sdk.hookspecs import hookimpl
from aigc_sdk.registry import Registry

from .conftest import make_distribution, run_py

EXITING = """
import sys
from aigc_sdk import hookimpl

@hookimpl
def register_models(register):
    sys.exit("register_models says goodbye")

@hookimpl
def register_commands(subparsers):
    sys.exit(3)

@hookimpl
def on_fit_start(trainer, model):
    sys.exit("on_fit_start says goodbye")

@hookimpl
def on_train_step_end(trainer, model, step, metrics):
    sys.exit(4)

@hookimpl
def on_fit_end(trainer, model, metrics):
    raise SystemExit(5)
"""


def test_sys_exit_in_every_hook_is_contained(site: Path, tmp_path: Path) -> None:
    make_distribution(site, "aigc-exiting", {"exiting": "exiting_plugin"}, {"exiting_plugin": EXITING})
    code = f"""
import json, sys
from aigc_sdk.cli import main
codes = {{}}
codes["plugins"] = main(["plugins", "--json"])
codes["doctor"] = main(["doctor", "--json"])
codes["train"] = main(["train", "gan", "--dataset", "digits", "--steps", "3", "--no-progress",
                       "--out", {str(tmp_path / "run")!r}])
from aigc_sdk.registry import default_registry
info = default_registry().host.plugins["exiting"]
print("RESULT" + json.dumps({{"codes": codes, "status": info.status, "error": info.error}}))
"""
    proc = run_py(code, site, env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    result = json.loads(line[len("RESULT") :])
    # doctor reports the quarantined plugin (and says so with exit code 1); nothing else is affected
    assert result["codes"] == {"plugins": 0, "doctor": 1, "train": 0}
    assert proc.stdout.count("SystemExit") >= 2  # named in the plugins and doctor reports
    assert result["status"] == "quarantined" and "SystemExit" in result["error"]
    assert "exiting" in proc.stderr  # named in the warning
    assert (tmp_path / "run" / "model" / "config.json").is_file()


def test_sys_exit_in_a_lifecycle_hook_during_training_is_contained(
    aigc_registry: Registry, tmp_path: Path
) -> None:
    import torch
    from torch.utils.data import TensorDataset

    import aigc_sdk
    from aigc_sdk.training import Trainer

    class Quitter:
        @hookimpl
        def on_train_step_end(self, trainer, model, step, metrics):  # type: ignore[no-untyped-def]
            sys.exit("bye")

    aigc_registry.host.register(Quitter())
    model = aigc_sdk.create_model("ae", data_shape=[6], hidden=8, latent_dim=2)
    Trainer(
        model, TensorDataset(torch.rand(32, 6)), steps=4, batch_size=8, out_dir=tmp_path, progress=False
    ).fit()
    rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 4  # every step ran
    quarantined = {q.name: q for q in aigc_registry.host.quarantined()}
    assert "Quitter" in quarantined and "SystemExit" in (quarantined["Quitter"].error or "")
