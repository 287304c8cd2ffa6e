"""Networks as plugin components: the factory contract, its errors, and how they are listed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import aigc_sdk
from aigc_sdk.errors import UnknownNameError

from .conftest import aigc_json, make_distribution, run_py

PLUGIN = """
import torch
from aigc_sdk import hookimpl
from aigc_sdk.interfaces import Discriminator

class TinyD(Discriminator):
    def __init__(self, *, data_shape, num_classes=None, latent_dim=None, width=4):
        super().__init__()
        self.num_classes = num_classes
        layers = [torch.nn.Flatten(), torch.nn.LazyLinear(width), torch.nn.Linear(width, 1)]
        self.net = torch.nn.Sequential(*layers)
    def forward(self, x, condition=None):
        return self.net(x).squeeze(1)

def not_a_discriminator(*, data_shape, num_classes=None, latent_dim=None):
    return torch.nn.Linear(2, 2)

def liar(*, data_shape, num_classes=None, latent_dim=None):
    return TinyD(data_shape=data_shape, num_classes=3)

@hookimpl
def register_discriminators(register):
    register("tiny-d", TinyD, summary="a tiny test discriminator")
    register("not-a-d", not_a_discriminator)
    register("liar-d", liar)
"""


def _install(site: Path) -> None:
    make_distribution(site, "aigc-tiny-d", {"tiny_d": "tiny_d_plugin"}, {"tiny_d_plugin": PLUGIN})


def test_third_party_discriminator_is_listed_and_checked(site: Path) -> None:
    _install(site)
    code = """
        import aigc_sdk, json
        out = {"names": aigc_sdk.list_networks("discriminator")}
        d = aigc_sdk.create_network("discriminator", "tiny-d", data_shape=[1, 8, 8], latent_dim=8, width=3)
        out["type"] = type(d).__name__
        for name, cfg in (("not-a-d", {}), ("liar-d", {}), ("tiny-d", {"depth": 2})):
            try:
                aigc_sdk.create_network("discriminator", name, data_shape=[1, 8, 8], latent_dim=8, **cfg)
            except Exception as exc:
                out[name] = f"{type(exc).__name__}: {exc}"
        m = aigc_sdk.create_model("gan", data_shape=[1, 8, 8], channels=8, discriminator="tiny-d")
        out["record"] = m.get_config()["discriminator"]
        print(json.dumps(out))
    """
    proc = run_py(code, site)
    assert proc.returncode == 0, proc.stderr
    import json

    out = json.loads(proc.stdout)
    assert {"tiny-d", "not-a-d", "liar-d", "conv", "resnet", "mlp"} <= set(out["names"])
    assert out["type"] == "TinyD"
    assert "TypeError" in out["not-a-d"] and "aigc_sdk.interfaces.Discriminator" in out["not-a-d"]
    assert "tiny_d" in out["not-a-d"] and "not_a_discriminator" in out["not-a-d"]  # plugin and factory
    assert "num_classes=None" in out["liar-d"] and "num_classes=3" in out["liar-d"]
    assert "'depth'" in out["tiny-d"] and "width" in out["tiny-d"]
    assert out["record"] == {
        "name": "tiny-d",
        "config": {},
        "plugin": "tiny_d",
        "distribution": "aigc-tiny-d",
        "version": "1.0",
    }


def test_plugins_command_lists_networks(site: Path) -> None:
    _install(site)
    report = aigc_json(["plugins"], site)
    names = {e["name"]: e["plugin"] for e in report["networks"]["discriminator"]}
    assert names["tiny-d"] == "tiny_d" and names["conv"]
    assert {e["name"] for e in report["networks"]["encoder"]} >= {"conv", "resnet", "mlp"}


def test_plugins_check_fails_on_a_quarantined_plugin(site: Path) -> None:
    make_distribution(site, "aigc-broken", {"broken": "broken_plugin"}, {"broken_plugin": "1 / 0\n"})
    code = "import sys; from aigc_sdk.cli import main; sys.exit(main(['plugins', '--check']))"
    assert run_py(code, site).returncode == 1
    assert run_py(code.replace(", '--check'", ""), site).returncode == 0


def test_unknown_network_suggests_a_name() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown discriminator 'resnett'.*Did you mean 'resnet'"):
        aigc_sdk.create_model("gan", data_shape=[1, 8, 8], discriminator="resnett")
    with pytest.raises(ValueError, match=r"kind must be one of"):
        aigc_sdk.list_networks("critic")


def test_model_sets_the_shared_arguments() -> None:
    with pytest.raises(ValueError, match=r"data_shape is set by the model"):
        aigc_sdk.create_model(
            "gan", data_shape=[1, 8, 8], generator={"name": "conv", "data_shape": [1, 4, 4]}
        )


@pytest.mark.parametrize("shape", [[3, 36, 36], [1, 8, 12], [2, 5, 5]])
@pytest.mark.parametrize("family", ["gan", "vae", "ae"])
def test_unsupported_image_size_lists_sizes_and_never_falls_back(family: str, shape: list[int]) -> None:
    with pytest.raises(ValueError, match=r"S in 8, 12, 16, 20, 24, 28, 32, .*64.*256.*arch='mlp'"):
        aigc_sdk.create_model(family, data_shape=shape)
    flat = aigc_sdk.create_model(family, data_shape=shape, arch="mlp")  # asked for explicitly
    assert flat.get_config()["arch"] == "mlp"


@pytest.mark.parametrize("arch", ["conv", "resnet"])
@pytest.mark.parametrize("shape", [[3, 64, 64], [1, 28, 28], [3, 32, 32]])
@pytest.mark.parametrize("family", ["cgan", "cvae", "ae"])
def test_image_models_have_no_mlp_in_the_image_path(family: str, shape: list[int], arch: str) -> None:
    extra = {} if family == "ae" else {"num_classes": 3}
    model = aigc_sdk.create_model(family, data_shape=shape, arch=arch, channels=4, hidden=8, **extra)
    cfg = model.get_config()
    parts = ("generator", "discriminator") if family == "cgan" else ("encoder", "decoder")
    assert all(cfg[p]["name"] == arch for p in parts)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(convs) >= 4
    y = torch.arange(2) % 3 if extra else None
    x = model.sample(2, condition=y)
    assert x.shape == (2, *shape)


def test_factories_of_checked_kinds_must_return_the_interface(aigc_empty_registry) -> None:  # type: ignore[no-untyped-def]
    from aigc_sdk.hookspecs import hookimpl

    class Wrong:
        @hookimpl
        def register_models(self, register):  # type: ignore[no-untyped-def]
            register("not-a-model", dict)

        @hookimpl
        def register_datasets(self, register):  # type: ignore[no-untyped-def]
            register("not-data", list)

    aigc_empty_registry.host.register(Wrong())
    wrong = r"model 'not-a-model' of plugin 'Wrong': its factory .* returned dict, not an .*GenerativeModel"
    with pytest.raises(TypeError, match=wrong):
        aigc_sdk.create_model("not-a-model")
    with pytest.raises(TypeError, match=r"returned list, not an aigc_sdk.interfaces.DatasetProvider"):
        aigc_sdk.load_dataset("not-data")
