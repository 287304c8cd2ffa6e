"""gan / vae / ae are unconditional unless asked; cgan / cvae take the data set's labels."""

from __future__ import annotations

import pytest
import torch

import aigc_sdk


@pytest.mark.parametrize(
    ("name", "expected"), [("gan", None), ("vae", None), ("ae", None), ("cgan", 10), ("cvae", 10)]
)
def test_dataset_labels_make_a_model_conditional_only_when_asked(name: str, expected: int | None) -> None:
    model = aigc_sdk.create_model(name, dataset="digits", channels=4, hidden=8)
    assert model.num_classes == expected
    assert model.get_config().get("num_classes") == expected
    # the Trainer hands (x, y) batches to every model; an unconditional one ignores y
    x, y = torch.rand(4, 1, 8, 8), torch.arange(4)
    metrics = model.training_step((x, y), model.configure_optimizers(), 0)
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_num_classes_still_makes_gan_and_vae_conditional(name: str) -> None:
    model = aigc_sdk.create_model(name, dataset="digits", num_classes=10, channels=4, hidden=8)
    assert model.num_classes == 10
    assert model.sample(3, condition=torch.tensor([1, 2, 3])).shape == (3, 1, 8, 8)
