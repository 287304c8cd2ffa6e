"""GAN training throughput with the fused ops vs the pure-PyTorch reference ops.

Run with ``pytest benchmarks/test_train_bench.py``; each benchmark reports ``steps_per_s`` in
``extra_info``. The reference variant swaps every ``FusedLeakyReLU`` for a module calling
``aigc_sdk.ops.reference`` (same parameters), because the ops pick their backend at import.
``python benchmarks/test_train_bench.py`` instead runs both variants in subprocesses, the
reference one with ``AIGC_SDK_DISABLE_EXT=1``, and prints steps/s.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time

import pytest
import torch

import aigc_sdk
from aigc_sdk.ops import FusedLeakyReLU
from aigc_sdk.ops import reference as ref

CONFIGS = {
    # the main job's generator/discriminator (MLP on 28x28)
    "mlp28": {"arch": "mlp", "hidden": 512, "d_dropout": 0.3, "r1_gamma": 1.0, "r1_every": 4},
    # the convolutional pair, with R1 through the double backward every step
    "conv28": {"channels": 32, "hidden": 128, "r1_gamma": 1.0},
}
BATCH = 64


class _ReferenceLeakyReLU(torch.nn.Module):
    def __init__(self, fused: FusedLeakyReLU) -> None:
        super().__init__()
        self.bias = fused.bias
        self.negative_slope, self.scale, self.dim = fused.negative_slope, fused.scale, fused.dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ref.fused_leaky_relu(x, self.bias, self.negative_slope, self.scale, self.dim)


def _with_reference_ops(model: torch.nn.Module) -> torch.nn.Module:
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, FusedLeakyReLU):
                setattr(module, name, _ReferenceLeakyReLU(child))
    return model


def _setup(config: str, backend: str):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = aigc_sdk.create_model("cgan", data_shape=[1, 28, 28], num_classes=10, **CONFIGS[config])
    if backend == "reference":
        model = _with_reference_ops(model)
    opts = model.configure_optimizers()
    x, y = torch.rand(BATCH, 1, 28, 28), torch.arange(BATCH) % 10
    step = [0]

    def run() -> None:
        model.training_step((x, y), opts, step[0])
        step[0] += 1

    run()  # warm-up
    return run


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_gan_steps_per_second(benchmark, config: str, backend: str) -> None:
    run = _setup(config, backend)
    benchmark.pedantic(run, rounds=20 if config == "mlp28" else 5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["steps_per_s"] = 1.0 / benchmark.stats.stats.mean
    benchmark.extra_info["ops_backend"] = backend if backend == "reference" else aigc_sdk.ops.backend()["cpu"]


def _measure(config: str, steps: int) -> dict[str, float]:
    """Steps/s by wall clock and by process CPU time (the latter is steadier on a shared machine)."""
    run = _setup(config, "fused")
    t, c = time.perf_counter(), time.process_time()
    for _ in range(steps):
        run()
    return {
        "steps_per_s": steps / (time.perf_counter() - t),
        "steps_per_cpu_s": steps / (time.process_time() - c),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_measure(sys.argv[2], int(sys.argv[3]))))
        sys.exit(0)
    for cfg, n in (("mlp28", 200), ("conv28", 30)):
        for label, env in (("fused", {}), ("AIGC_SDK_DISABLE_EXT=1", {"AIGC_SDK_DISABLE_EXT": "1"})):
            out = subprocess.run(
                [sys.executable, __file__, "--child", cfg, str(n)],
                capture_output=True,
                text=True,
                env={**os.environ, **env},
                check=True,
            )
            res = json.loads(out.stdout.splitlines()[-1])
            print(
                f"{cfg:7s} {label:24s} {res['steps_per_s']:.2f} steps/s wall, "
                f"{res['steps_per_cpu_s']:.2f} steps per CPU-second"
            )
