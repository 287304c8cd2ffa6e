"""Run under torchrun by tests/core/training/test_ddp.py: trains with a callback that records how
the networks are wrapped and what the model looks like after fit()."""

from __future__ import annotations

import json
import sys

import torch
from torch.utils.data import TensorDataset

import aigc_sdk
from aigc_sdk.training import Trainer
from aigc_sdk.training.distributed import NetworkDDP


class Record:
    def __init__(self) -> None:
        self.types: dict[str, str] = {}

    def on_fit_start(self, trainer, model):  # type: ignore[no-untyped-def]
        self.types = {n: type(m).__name__ for n, m in model.named_children()}


def main(out: str, model_name: str, mode: str, aux: float) -> None:
    torch.manual_seed(0)
    config = {"data_shape": [6], "hidden": 16, "latent_dim": 3}
    if model_name == "gan":
        config.update(aux_weight=aux, num_classes=2 if aux else None)
    model = aigc_sdk.create_model(model_name, **config)
    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.rand(64, 6, generator=g), torch.randint(0, 2, (64,), generator=g))
    record = Record()
    trainer = Trainer(
        model,
        data,
        steps=3,
        batch_size=16,
        data_parallel=mode,
        callbacks=[record],
        progress=False,
        device="cpu",
    )
    result: dict[str, object] = {"rank": trainer.dist.rank}
    try:
        trainer.fit()
        result["during"] = record.types
        result["after"] = {n: type(m).__name__ for n, m in model.named_children()}
        result["keys_plain"] = not any(".module." in k for k in model.state_dict())
    except Exception as exc:  # reported to the test instead of a traceback
        result["error"] = f"{type(exc).__name__}: {exc}"
    with open(f"{out}.{trainer.dist.rank}.json", "w") as fh:
        json.dump(result, fh)
    assert NetworkDDP  # imported so the wrapped class is the SDK's


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
