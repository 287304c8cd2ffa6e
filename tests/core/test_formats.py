"""One format-tag scheme for every saved artifact; older tags still load; saved models are
rebuilt by the registered factory of their recorded class, not by a short name another plugin
may also use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import aigc_sdk
from aigc_sdk.hookspecs import hookimpl
from aigc_sdk.io import format_tag, load_artifact, same_format, save_artifact, save_model
from aigc_sdk.registry import Registry


def test_format_tags_and_their_legacy_spellings() -> None:
    assert format_tag("synthesizer") == "aigc-sdk/synthesizer"
    assert same_format("aigc_synth/1", format_tag("synthesizer"))
    assert same_format("aigc-sdk-model", format_tag("model"))
    assert same_format("aigc-recommender", "aigc-sdk/recommender")
    assert not same_format("aigc-sdk/model", "aigc-sdk/synthesizer")
    assert not same_format(None, "aigc-sdk/model")


def test_artifacts_check_their_format_and_version(tmp_path: Path) -> None:
    save_artifact(tmp_path / "a", {"w": torch.ones(2)}, {"format": format_tag("thing"), "format_version": 3})
    config, tensors = load_artifact(tmp_path / "a", format_tag("thing"), "thing", max_version=3)
    assert config["format_version"] == 3 and torch.equal(tensors["w"], torch.ones(2))
    with pytest.raises(ValueError, match="format version 3, newer than this aigc-sdk reads \\(2\\)"):
        load_artifact(tmp_path / "a", format_tag("thing"), "thing", max_version=2)
    with pytest.raises(ValueError, match="does not hold a saved widget"):
        load_artifact(tmp_path / "a", format_tag("widget"), "widget")


def test_a_model_saved_with_the_old_tag_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("ae", data_shape=[5], hidden=8, latent_dim=2)
    save_model(model, tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    record = json.loads(config.read_text())
    assert record["format"] == "aigc-sdk/model"
    record["format"] = "aigc-sdk-model"  # what earlier releases wrote
    config.write_text(json.dumps(record))
    loaded = aigc_sdk.load(str(tmp_path / "m"))
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_a_third_party_model_named_gan_does_not_shadow_saved_gans(
    aigc_registry: Registry, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    gan = aigc_sdk.create_model("gan", data_shape=[4], hidden=8, latent_dim=2)
    save_model(gan, tmp_path / "g")

    class Impostor:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register("gan", "builtins:dict", summary="another plugin's gan")

    aigc_registry.host.register(Impostor())
    aigc_registry.invalidate()
    with pytest.raises(aigc_sdk.errors.PluginConflictError):
        aigc_sdk.create_model("gan", data_shape=[4])  # the short name is ambiguous now ...
    loaded = aigc_sdk.load(str(tmp_path / "g"))  # ... but the save records its class
    assert type(loaded) is type(gan)
    z = torch.Generator().manual_seed(1)
    assert torch.equal(
        loaded.sample(3, generator=z), gan.eval().sample(3, generator=torch.Generator().manual_seed(1))
    )


def test_load_use_case_finds_the_registered_use_case_from_the_format(tmp_path: Path) -> None:
    import numpy as np

    from aigc_anomaly.detector import Detector

    x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    det = Detector(epochs=2, seed=0).fit(x)
    det.save(tmp_path / "det")
    again = aigc_sdk.load_use_case(tmp_path / "det")
    assert isinstance(again, Detector)
    np.testing.assert_array_equal(again.score(x), det.score(x))
    save_artifact(tmp_path / "other", {}, {"format": "aigc-sdk/nothing-reads-this"})
    with pytest.raises(ValueError, match="no registered use-case reads"):
        aigc_sdk.load_use_case(tmp_path / "other")


def test_new_helpers_name_bad_arguments() -> None:
    from aigc_sdk.interfaces import split_tensors
    from aigc_sdk.training import FitLoop

    with pytest.raises(ValueError, match="directory must be a path"):
        aigc_sdk.load_use_case(3)
    with pytest.raises(ValueError, match="data must be a map-style Dataset"):
        split_tensors(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="progress must be True, False or None"):
        FitLoop(model=torch.nn.Linear(1, 1), progress="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="divergence_threshold must be a positive number"):
        FitLoop(model=torch.nn.Linear(1, 1), divergence_threshold=-1.0)
