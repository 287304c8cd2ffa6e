"""Models saved before networks became registered components still load.

``data/saved_layouts.json`` records, for GAN / cGAN / VAE / cVAE / AE / DAE saves made by the
earlier release (8x8 and 28x28 images, 5-dim vectors), the saved config and every weight's
name and shape. Each must rebuild from its config and accept those weights strictly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import aigc_sdk

LAYOUTS: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "saved_layouts.json").read_text())


@pytest.mark.parametrize("key", sorted(LAYOUTS))
def test_old_save_loads_strictly(key: str) -> None:
    entry = LAYOUTS[key]
    assert "generator" not in entry["config"] and "encoder" not in entry["config"]  # really an old save
    model = aigc_sdk.create_model(entry["name"], **entry["config"])
    g = torch.Generator().manual_seed(0)
    # positive values: batch-norm variances and code variances must be > 0
    old_weights = {k: 0.2 * torch.rand(shape, generator=g) + 0.01 for k, shape in entry["shapes"].items()}
    model.load_state_dict(old_weights, strict=True)  # raises on any missing/unexpected/mis-shaped key
    # Same parameter count, and every old tensor landed somewhere (renamed at most).
    state = model.state_dict()
    assert sum(t.numel() for t in state.values()) == sum(t.numel() for t in old_weights.values())
    assert sorted(t.shape for t in state.values()) == sorted(t.shape for t in old_weights.values())
    x = model.eval().sample(3, generator=torch.Generator().manual_seed(1))
    assert x.shape == (3, *entry["config"]["data_shape"]) and torch.isfinite(x).all()


def test_new_config_records_networks_and_rebuilds(tmp_path: Path) -> None:
    model = aigc_sdk.create_model("ae", data_shape=[1, 8, 8], channels=8, hidden=16)
    cfg = model.get_config()
    assert cfg["encoder"]["name"] == "conv" and cfg["encoder"]["config"] == {"hidden": 16, "channels": 8}
    assert cfg["encoder"]["distribution"] == "aigc-sdk" and cfg["encoder"]["plugin"]
    model.save(str(tmp_path / "m"))
    again = aigc_sdk.load(tmp_path / "m")
    assert again.get_config() == cfg
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_missing_network_plugin_is_named(tmp_path: Path) -> None:
    model = aigc_sdk.create_model("gan", data_shape=[1, 8, 8], channels=8)
    cfg = model.get_config()
    cfg["discriminator"] = {**cfg["discriminator"], "name": "gone-d", "plugin": "gone_plugin"}
    cfg["discriminator"]["distribution"] = "aigc-gone"
    with pytest.raises(aigc_sdk.PluginLoadError, match=r"gone_plugin.*pip install aigc-gone"):
        aigc_sdk.create_model("gan", **cfg)
