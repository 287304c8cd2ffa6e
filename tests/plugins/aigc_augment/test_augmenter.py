"""The augment API: shapes and labels, determinism, bad input, variations, grids, registration."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from tests.plugins.aigc_augment.conftest import FAST


def test_augment_returns_class_major_synthetic_images(digits):
    from aigc_augment.augmenter import augment

    labelled, unlabelled, _ = digits
    out = augment(labelled, per_class=3, unlabelled=unlabelled, seed=0, **FAST)
    x, y = out.tensors
    assert isinstance(out, TensorDataset)
    assert x.shape == (30, 1, 8, 8) and x.dtype == torch.float32
    assert torch.equal(y, torch.arange(10).repeat_interleave(3))
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_combine_prepends_the_real_images(fitted, digits):
    (x, y), _, _ = digits
    out = fitted.augment((x, y), 2, combine=True)
    xc, yc = out.tensors
    assert xc.shape[0] == x.shape[0] + 20
    assert torch.equal(xc[: x.shape[0]], x) and torch.equal(yc[: y.shape[0]], y)


def test_same_seed_same_samples_and_fit(digits):
    from aigc_augment.augmenter import Augmenter

    labelled, unlabelled, _ = digits
    a = Augmenter(seed=3, **FAST).fit(labelled, unlabelled=unlabelled)
    b = Augmenter(seed=3, **FAST).fit(labelled, unlabelled=unlabelled)
    sa, sb = a.sample(4).tensors[0], b.sample(4).tensors[0]
    assert torch.equal(sa, sb)
    c = Augmenter(seed=4, **FAST).fit(labelled, unlabelled=unlabelled)
    assert not torch.equal(sa, c.sample(4).tensors[0])
    # An explicit generator decides the draw; the global RNG is left alone.
    state = torch.get_rng_state()
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(a.sample(2, generator=g1).tensors[0], a.sample(2, generator=g2).tensors[0])
    assert torch.equal(state, torch.get_rng_state())


def test_prior_source_and_report(digits):
    from aigc_augment.augmenter import Augmenter

    labelled, _, _ = digits
    aug = Augmenter(seed=0, source="prior", **FAST).fit(labelled)
    x, _ = aug.sample(2).tensors
    assert x.shape == (20, 1, 8, 8)
    rep = aug.report()
    assert rep["fit"]["labelled"] == 100 and rep["fit"]["unlabelled"] == 0
    assert rep["samples"] == {**rep["samples"], "per_class": 2, "total": 20, "source": "prior"}
    import json

    json.dumps(rep)  # JSON-serialisable


@pytest.mark.parametrize("per_class", [0, -1, 1.5, True])
def test_bad_per_class(fitted, digits, per_class):
    from aigc_augment.augmenter import augment

    with pytest.raises(ValueError, match="per_class"):
        fitted.sample(per_class)
    with pytest.raises(ValueError, match="per_class"):
        augment(digits[0], per_class=per_class, **FAST)


def test_unlabelled_data_is_rejected_for_conditional_augmentation(digits):
    from aigc_augment.augmenter import augment

    (x, _), _, _ = digits
    for data in (TensorDataset(x), x):
        with pytest.raises(ValueError, match="labelled dataset"):
            augment(data, per_class=2, **FAST)


def test_wrong_image_shapes_are_rejected(digits):
    from aigc_augment.augmenter import Augmenter, augment

    (x, y), _, _ = digits
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        augment((x.flatten(1), y), per_class=2, **FAST)
    with pytest.raises(ValueError, match="image shape"):
        Augmenter(**FAST).fit((x, y), unlabelled=torch.rand(5, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        augment((x * 16, y), per_class=2, **FAST)
    with pytest.raises(ValueError, match="labels"):
        augment((x, y[:-1]), per_class=2, **FAST)


def test_bad_options():
    from aigc_augment.augmenter import Augmenter

    with pytest.raises(ValueError, match="source"):
        Augmenter(source="magic")
    with pytest.raises(ValueError, match="steps"):
        Augmenter(steps=0)
    with pytest.raises(ValueError, match="strength"):
        Augmenter(strength=-1.0)
    with pytest.raises(RuntimeError, match="fit"):
        Augmenter().sample(2)


def test_variations(fitted, digits):
    from aigc_augment.variations import variations

    (x, y), _, _ = digits
    model = fitted.model
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = variations(model, x[0], 5, 0.8, generator=g1, condition=int(y[0]))
    b = variations(model, x[0:1], 5, 0.8, generator=g2, condition=int(y[0]))
    assert a.shape == (5, 1, 8, 8) and torch.equal(a, b)
    assert a.std(0).sum() > 0  # the variations differ from each other
    recon = variations(model, x[0], 3, 0.0, condition=int(y[0]))
    assert torch.allclose(recon[0], recon[1]) and torch.allclose(recon[1], recon[2])
    assert fitted.variations(x[0], 2).shape == (2, 1, 8, 8)  # class taken from the nearest image
    with pytest.raises(ValueError, match="shape"):
        variations(model, torch.rand(1, 28, 28), 2, condition=0)
    with pytest.raises(ValueError, match="condition"):
        variations(model, x[0], 2)
    with pytest.raises(ValueError, match="n must"):
        variations(model, x[0], 0, condition=0)
    with pytest.raises(ValueError, match="strength"):
        variations(model, x[0], 2, -0.1, condition=0)
    with pytest.raises(ValueError, match="VAE"):
        variations(torch.nn.Linear(2, 2), x[0], 2)


def test_sample_grid_is_seeded(fitted, tmp_path):
    from aigc_augment.grids import sample_grid

    imgs, labels, path = sample_grid(fitted.model, tmp_path / "a.png", per_class=4, seed=1)
    _, _, path2 = sample_grid(fitted.model, tmp_path / "b.png", per_class=4, seed=1)
    assert imgs.shape == (40, 1, 8, 8) and labels is not None and labels.shape == (40,)
    assert path.read_bytes() == path2.read_bytes()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="per_class"):
        sample_grid(fitted.model, tmp_path / "c.png", per_class=0)


def test_random_affine_is_seeded_and_keeps_shape():
    from aigc_augment.affine import random_affine

    x = torch.rand(6, 1, 8, 8)
    a = random_affine(x, generator=torch.Generator().manual_seed(0))
    b = random_affine(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    ident = random_affine(x, degrees=0, translate=0, scale=(1.0, 1.0))
    assert torch.allclose(ident, x, atol=1e-5)


def test_registered_as_a_use_case_in_process():
    import aigc_augment
    from aigc_sdk.interfaces import UseCase
    from aigc_sdk.registry import Registry

    reg = Registry(autoload=False)
    reg.host.register(aigc_augment)
    assert "augment" in reg.list_names("use_case")
    uc = reg.create("use_case", "augment", steps=5)
    assert isinstance(uc, UseCase) and uc.name == "augment"


def test_cgan_generator_with_prior_samples(digits):
    from aigc_augment.augmenter import Augmenter

    labelled, _, _ = digits
    with pytest.raises(ValueError, match="needs a VAE"):
        Augmenter(model="cgan", **FAST).fit(labelled)
    aug = Augmenter(model="cgan", source="prior", seed=0, steps=3, batch_size=16).fit(labelled)
    x, y = aug.sample(2).tensors
    assert x.shape == (20, 1, 8, 8) and torch.equal(y, torch.arange(10).repeat_interleave(2))


def test_huge_counts_are_refused_before_allocating(fitted):
    from aigc_augment.variations import variations
    from aigc_sdk.errors import UsageError

    image = torch.rand(1, 8, 8)
    with pytest.raises(UsageError, match=r"n=1000000000 would need .* for the variations"):
        variations(fitted.model, image, 10**9, condition=0)
    with pytest.raises(UsageError, match=r"per_class=100000000 would need .* for 1000000000 images"):
        fitted.sample(10**8)
