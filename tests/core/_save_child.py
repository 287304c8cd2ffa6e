"""Child of the save kill test: a zygote that, for each ``go`` line on stdin, forks a process
saving a small model and a non-model artifact in a loop (until it is SIGKILLed), prints that
process's pid, reaps it and prints ``done EXITCODE``. Forking from one warm interpreter keeps each kill
cheap (no torch import per kill)."""

from __future__ import annotations

import os
import sys


def save_forever(root: str) -> None:
    """Alternate two model configs (a torn save would not load) and count in every save."""
    import torch

    import aigc_sdk
    from aigc_sdk.io import save_artifact, save_model

    torch.set_num_threads(1)
    i = int.from_bytes(os.urandom(3), "little")
    while True:
        i += 1
        model = aigc_sdk.create_model("ae", data_shape=[6], hidden=8 + 8 * (i % 2), latent_dim=2)
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(i % 1000))
        save_model(model, os.path.join(root, "model"), name="ae")
        w = torch.full((64, 16 + i % 3), float(i))
        save_artifact(os.path.join(root, "artifact"), {"w": w}, {"format": "demo/1", "i": i})


def main() -> None:
    import torch  # noqa: F401  (imported once, before forking)

    import aigc_sdk
    from aigc_sdk.registry import default_registry

    default_registry().catalog("model")  # plugins discovered once, so kills land in the save loop
    aigc_sdk.list_models()
    root = sys.argv[1]
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        pid = os.fork()
        if pid == 0:
            try:
                save_forever(root)
            finally:
                os._exit(1)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"done {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    main()
