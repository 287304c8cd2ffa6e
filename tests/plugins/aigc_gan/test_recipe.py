"""The GAN recipe's parts: losses, differentiable augmentation, EMA ramp-up, spectral norm, the
legacy-config path, and the bad-input messages."""

from __future__ import annotations

import json

import pytest
import torch

import aigc_sdk
from aigc_gan import losses
from aigc_gan.augment import diff_augment, parse_policy
from aigc_gan.models import _ema_beta
from aigc_sdk.training import Trainer


def _digits_like(n: int = 64) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(0)
    return torch.utils.data.TensorDataset(torch.rand(n, 1, 8, 8, generator=g), torch.arange(n) % 4)


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("kind", losses.LOSSES)
def test_losses_prefer_real_high_and_fake_low(kind: str) -> None:
    good = losses.discriminator_loss(kind, torch.full((8,), 2.0), torch.full((8,), -2.0))
    bad = losses.discriminator_loss(kind, torch.full((8,), -2.0), torch.full((8,), 2.0))
    assert good < bad
    # the generator's loss falls as D scores its samples as more real
    assert losses.generator_loss(kind, torch.full((8,), 1.0)) < losses.generator_loss(kind, torch.zeros(8))


def test_loss_names_are_normalised_and_unknown_ones_listed() -> None:
    assert losses.check_loss("WGAN_GP") == "wgan-gp"
    with pytest.raises(ValueError, match=r"loss must be one of ns, hinge, wgan-gp, lsgan, got 'hinge-plus'"):
        losses.check_loss("hinge-plus")


# ----------------------------------------------------------------------------- augmentation
def test_policy_parsing() -> None:
    assert parse_policy("cutout, translation") == ("translation", "cutout")  # apply order is fixed
    assert parse_policy("") == () and parse_policy(None) == ()
    with pytest.raises(ValueError, match="augment: unknown policy 'flip'; accepted: color, translation"):
        parse_policy("translation,flip")


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
@pytest.mark.parametrize("channels", [1, 3])
def test_augmentation_is_differentiable_shape_preserving_and_random(policy: str, channels: int) -> None:
    torch.manual_seed(0)
    x = torch.rand(16, channels, 12, 12, requires_grad=True)
    a = diff_augment(x, parse_policy(policy))
    b = diff_augment(x, parse_policy(policy))
    assert a.shape == x.shape and not torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content_and_cutout_zeroes_a_square() -> None:
    torch.manual_seed(1)
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    moved = diff_augment(x, ("translation",))
    assert moved.sum(dim=(1, 2, 3)).eq(1).all()  # a 1-px shift of at most 1 keeps the dot inside
    assert (moved[:, 0, 3, 3] == 0).any()  # ... and some images moved it
    ones = torch.ones(64, 1, 8, 8)
    cut = diff_augment(ones, ("cutout",))
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert zeros.max() <= 16 and zeros.min() >= 4  # a 4x4 square, clipped at the border


def test_vectors_are_not_augmented() -> None:
    x = torch.rand(8, 5)
    assert diff_augment(x, ("color", "cutout")) is x


def test_augment_p_zero_is_identity_and_one_always_augments() -> None:
    torch.manual_seed(0)
    x = torch.rand(32, 1, 8, 8)
    off = aigc_sdk.create_model("gan", data_shape=[1, 8, 8], channels=8, augment="cutout", augment_p=0.0)
    assert torch.equal(off.augment(x), x)
    on = aigc_sdk.create_model("gan", data_shape=[1, 8, 8], channels=8, augment="cutout", augment_p=1.0)
    assert ((on.augment(x) == 0).flatten(1).sum(1) > 0).all()


# ----------------------------------------------------------------------------- EMA
def test_ema_half_life_and_ramp_up() -> None:
    # after half_life images the old weights count one half
    beta = _ema_beta(64, 10**9, ema_kimg=6.4, ema_rampup=None)
    assert beta**100 == pytest.approx(0.5)
    # early on the ramp-up shortens the half-life, so the EMA follows the generator closely
    early = _ema_beta(64, 64, ema_kimg=10.0, ema_rampup=0.05)
    late = _ema_beta(64, 10**6, ema_kimg=10.0, ema_rampup=0.05)
    assert early < 1e-6 < late < 1.0


def test_ema_generator_after_one_step_equals_generator_with_ramp_up() -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model("cgan", data_shape=[1, 8, 8], num_classes=4, channels=8)
    Trainer(model, _digits_like(), steps=1, batch_size=16, progress=False).fit()
    for p_ema, p in zip(model.generator_ema.parameters(), model.generator.parameters()):
        torch.testing.assert_close(p_ema, p)


# ----------------------------------------------------------------------------- recipe defaults
def test_recipe_defaults_and_spectral_norm() -> None:
    model = aigc_sdk.create_model("cgan", data_shape=[1, 28, 28], num_classes=10, channels=8)
    cfg = model.get_config()
    assert cfg["loss"] == "hinge" and cfg["spectral_norm"] and cfg["aux_weight"] == 0.0
    assert cfg["augment"] == "" and cfg["hidden"] == 0
    assert any("parametrizations" in k for k in model.discriminator.state_dict())
    assert model.discriminator.head.aux is None  # no auxiliary classifier by default
    plain = aigc_sdk.create_model("gan", data_shape=[1, 28, 28], channels=8, spectral_norm=False)
    assert not any("parametrizations" in k for k in plain.discriminator.state_dict())


@pytest.mark.parametrize("loss", losses.LOSSES)
def test_every_loss_trains_with_finite_metrics(loss: str) -> None:
    torch.manual_seed(0)
    model = aigc_sdk.create_model(
        "cgan", data_shape=[1, 8, 8], num_classes=4, channels=8, loss=loss, r1_gamma=1.0, r1_every=2
    )
    out = Trainer(model, _digits_like(), steps=4, batch_size=16, progress=False).fit()
    assert all(torch.isfinite(torch.tensor(v)) for v in out.values())
    assert "r1" in out or "g_loss" in out


def test_a_config_saved_before_the_recipe_loads_with_its_old_meaning(tmp_path) -> None:
    """Old configs record ema_beta/ema_start and none of the new keys: they rebuild the old networks."""
    legacy_cfg = {
        "data_shape": [1, 8, 8],
        "num_classes": 4,
        "latent_dim": 8,
        "arch": "conv",
        "channels": 8,
        "hidden": 16,
        "embed_dim": 4,
        "batch_norm": True,
        "d_dropout": 0.0,
        "loss": "ns",
        "r1_gamma": 0.0,
        "r1_every": 1,
        "gp_weight": 10.0,
        "n_critic": 1,
        "aux_weight": 1.0,
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "betas": [0.5, 0.999],
        "ema_beta": 0.999,
        "ema_start": 0,
    }
    model = aigc_sdk.create_model("cgan", **legacy_cfg)
    assert not model.get_config()["spectral_norm"] and model.get_config()["augment"] == ""
    assert model.ema_decay(10, 64) == 0.999
    assert "body.6.weight" in model.generator.state_dict()  # the old 3x3 output convolution
    model.save(str(tmp_path / "m"))
    record = json.loads((tmp_path / "m" / "config.json").read_text())
    assert record["config"]["ema_start"] == 0
    again = aigc_sdk.load(str(tmp_path / "m"))
    x = again.sample(4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, model.eval().sample(4, generator=torch.Generator().manual_seed(0)))


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "hinge-plus"}, "loss must be one of"),
        ({"augment": "flip"}, "augment: unknown policy 'flip'"),
        ({"augment_p": -0.1}, "augment_p must be a probability"),
        ({"augment_p": 1.5}, "augment_p must be a probability"),
        ({"r1_every": 0}, "r1_every must be a positive int"),
        ({"ema_kimg": 0}, "ema_kimg must be a positive number"),
        ({"ema_kimg": -1.0}, "ema_kimg must be a positive number"),
        ({"ema_rampup": 0}, "ema_rampup must be a positive number"),
        ({"spectral_norm": "yes"}, "spectral_norm must be True or False"),
        ({"hidden": -1}, "hidden must be an int >= 0"),
        ({"betas": [0.5]}, "betas must be two numbers"),
    ],
)
def test_bad_recipe_arguments_name_the_argument(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        aigc_sdk.create_model("gan", data_shape=[1, 8, 8], **kwargs)


def test_mlp_needs_a_hidden_width() -> None:
    with pytest.raises(ValueError, match=r"hidden must be an int >= 1 for arch='mlp'"):
        aigc_sdk.create_model("gan", data_shape=[5], hidden=0)
