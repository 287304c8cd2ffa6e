"""Child process of the crash-safety test: trains forever, checkpointing every step, resuming."""

from __future__ import annotations

import sys

import torch

import aigc_sdk
from aigc_sdk.training import Callback, Trainer


class _Announce(Callback):
    def on_fit_start(self, trainer, model) -> None:  # type: ignore[no-untyped-def]
        print(f"started {trainer.step}", flush=True)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = aigc_sdk.create_model("ae", data_shape=[6], hidden=32, latent_dim=3)
    x = torch.rand(64, 6, generator=torch.Generator().manual_seed(0))
    Trainer(
        model,
        torch.utils.data.TensorDataset(x),
        steps=10**6,
        batch_size=16,
        out_dir=sys.argv[1],
        checkpoint_every=1,
        keep_last=2,
        resume=True,
        deterministic=True,
        progress=False,
        callbacks=[_Announce()],
    ).fit()


if __name__ == "__main__":
    main()
