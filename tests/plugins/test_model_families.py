"""Model families: construction, a few training steps, sampling, save/load, bad input."""

from __future__ import annotations

import json

import pytest
import torch

import aigc_sdk
from aigc_sdk.training import Trainer

# (registered name, config, data shape, labelled)
CASES = [
    ("gan", {"channels": 8, "hidden": 16}, (1, 8, 8), False),
    ("cgan", {"channels": 8, "hidden": 16}, (1, 8, 8), True),
    ("cgan", {"channels": 8, "hidden": 16, "loss": "hinge", "r1_gamma": 1.0}, (1, 28, 28), True),
    ("gan", {"channels": 8, "hidden": 16, "loss": "wgan-gp", "n_critic": 2}, (3, 32, 32), False),
    ("gan", {"hidden": 16}, (5,), False),
    ("cgan", {"arch": "mlp", "hidden": 16, "d_dropout": 0.2}, (1, 8, 8), True),
    ("vae", {"channels": 8, "hidden": 16}, (1, 8, 8), False),
    ("cvae", {"channels": 8, "hidden": 16}, (1, 28, 28), True),
    ("vae", {"hidden": 16}, (5,), False),
    ("cvae", {"hidden": 16, "likelihood": "gaussian", "arch": "mlp"}, (1, 8, 8), True),
    ("ae", {"channels": 8, "hidden": 16}, (1, 8, 8), False),
    ("dae", {"hidden": 16}, (5,), False),
]


def _data(shape: tuple[int, ...], labelled: bool, n: int = 32) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, *shape, generator=g)
    return (
        torch.utils.data.TensorDataset(x, torch.arange(n) % 3)
        if labelled
        else torch.utils.data.TensorDataset(x)
    )


def _make(name: str, config: dict, shape: tuple[int, ...], labelled: bool):  # type: ignore[no-untyped-def]
    extra = {"num_classes": 3} if labelled else {}
    return aigc_sdk.create_model(name, data_shape=list(shape), **extra, **config)


@pytest.mark.parametrize(("name", "config", "shape", "labelled"), CASES)
def test_family_trains_samples_saves_loads(tmp_path, name, config, shape, labelled) -> None:
    torch.manual_seed(0)
    model = _make(name, config, shape, labelled)
    assert json.loads(json.dumps(model.get_config())) == model.get_config()
    metrics = Trainer(model, _data(shape, labelled), steps=3, batch_size=8, progress=False).fit()
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    s1 = model.sample(5, generator=torch.Generator().manual_seed(3))
    s2 = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert s1.shape == (5, *shape) and torch.equal(s1, s2)
    aigc_sdk.save_model(model, tmp_path / "m")
    record = json.loads((tmp_path / "m" / "config.json").read_text())
    assert record["name"] == name and record["family"] == model.family and record["sdk_version"]
    loaded = aigc_sdk.load(tmp_path / "m")
    assert type(loaded) is type(model)
    assert torch.equal(loaded.sample(5, generator=torch.Generator().manual_seed(3)), s1)


def test_sampling_is_batched_and_batch_size_independent() -> None:
    torch.manual_seed(0)
    for name in ("cgan", "cvae"):
        model = aigc_sdk.create_model(name, data_shape=[1, 8, 8], num_classes=3, channels=8, hidden=16)
        a = model.sample(10, generator=torch.Generator().manual_seed(1), batch_size=3)
        b = model.sample(10, generator=torch.Generator().manual_seed(1), batch_size=1024)
        torch.testing.assert_close(a, b)
        c = model.sample(10, generator=torch.Generator().manual_seed(2), condition=torch.full((10,), 2))
        assert not torch.equal(a, c)


@pytest.mark.parametrize(
    ("name", "kwargs", "arg"),
    [
        ("gan", {"data_shape": [1, 8, 8], "latent_dim": 0}, "latent_dim"),
        ("gan", {"data_shape": [1, 8, 8], "loss": "nope"}, "loss"),
        ("gan", {"data_shape": [1, 9, 8], "arch": "conv"}, "arch"),
        ("gan", {"data_shape": "28x28"}, "data_shape"),
        ("gan", {}, "data_shape"),
        ("gan", {"data_shape": [1, 8, 8], "ema_beta": 1.5}, "ema_beta"),
        ("gan", {"data_shape": [1, 8, 8], "aux_weight": 1.0}, "aux_weight"),
        ("cgan", {"data_shape": [1, 8, 8], "num_classes": 1}, "num_classes"),
        ("vae", {"data_shape": [4], "likelihood": "poisson"}, "likelihood"),
        ("vae", {"data_shape": [4], "beta": -1}, "beta"),
        ("ae", {"data_shape": [4], "noise_std": -0.1}, "noise_std"),
        ("ae", {"data_shape": [4], "lr": 0}, "lr"),
    ],
)
def test_bad_config_raises_value_error_naming_argument(name, kwargs, arg) -> None:
    with pytest.raises(ValueError, match=arg):
        aigc_sdk.create_model(name, **kwargs)


def test_bad_sample_arguments() -> None:
    model = aigc_sdk.create_model("cgan", data_shape=[1, 8, 8], num_classes=3, channels=8, hidden=16)
    with pytest.raises(ValueError, match="n must"):
        model.sample(-1)
    with pytest.raises(ValueError, match="condition"):
        model.sample(4, condition=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="condition"):
        model.sample(2, condition=torch.tensor([0, 7]))
    ae = aigc_sdk.create_model("ae", data_shape=[4])
    with pytest.raises(ValueError, match="condition"):
        ae.sample(2, condition=torch.tensor([0, 1]))


def test_dataset_kwarg_fills_shape_and_classes() -> None:
    model = aigc_sdk.create_model("cgan", dataset="digits", channels=8, hidden=16)
    assert model.get_config()["data_shape"] == [1, 8, 8] and model.num_classes == 10
    assert "dataset" not in model.get_config()


def test_plugin_packages_do_not_import_torch_at_registration() -> None:
    import subprocess
    import sys

    code = (
        "import sys, aigc_gan, aigc_vae, aigc_ae, aigc_datasets; "
        "assert 'torch' not in sys.modules, 'plugin __init__ imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_models_are_registered_with_families() -> None:
    assert {"gan", "cgan"} <= set(aigc_sdk.list_models(family="gan"))
    assert {"vae", "cvae"} <= set(aigc_sdk.list_models(family="vae"))
    assert {"ae", "dae"} <= set(aigc_sdk.list_models(family="ae"))
