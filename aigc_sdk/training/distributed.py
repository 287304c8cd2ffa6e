"""Data-parallel training over ``torch.distributed`` (gloo on CPU, nccl on CUDA).

Processes are started by ``torchrun`` (or ``aigc train ... --nproc N``, which runs
torchrun for you). Each rank takes its slice of the same global batch, and gradients are
averaged across ranks just before every ``optimizer.step()`` by :class:`ManagedOptimizer`;
that works for models with several optimizers (GANs) without wrapping modules in DDP.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and local rank of this process (``0, 1, 0`` when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, logs and samples."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1


def init_from_env(device: torch.device) -> DistInfo:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` > 1).

    Uses nccl for CUDA devices and gloo otherwise. Returns a single-process ``DistInfo``
    when not launched distributed.
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def broadcast_module(module: torch.nn.Module, src: int = 0) -> None:
    """Copy ``src``'s parameters and buffers to every rank so all start identical."""
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src)


def average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """All-reduce (sum) the gradients of ``params`` and divide by ``world_size``.

    Parameters without a gradient on this rank contribute zeros, so every rank issues the
    same collectives in the same order.
    """
    grads = []
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grads.append(p.grad)
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


class ManagedOptimizer:
    """Wraps an optimizer handed to ``model.training_step``: before each ``step()`` it averages
    gradients across ranks (when distributed) and clips their norm (when asked).

    Everything else (``zero_grad``, ``param_groups``, ``state_dict`` ...) is forwarded.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, *, world_size: int = 1, grad_clip: float | None = None
    ):
        self.optimizer = optimizer
        self.world_size = world_size
        self.grad_clip = grad_clip
        self.last_grad_norm: float | None = None

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for g in self.optimizer.param_groups for p in g["params"] if p.requires_grad]

    def step(self, closure: Any = None) -> Any:
        """Synchronise and clip gradients, then step the wrapped optimizer."""
        params = self._params()
        if self.world_size > 1:
            average_gradients(params, self.world_size)
        if self.grad_clip is not None:
            with_grad = [p for p in params if p.grad is not None]
            norm = torch.nn.utils.clip_grad_norm_(with_grad, self.grad_clip)
            self.last_grad_norm = float(norm)
        return self.optimizer.step(closure) if closure is not None else self.optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forwarded to the wrapped optimizer."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)


def cleanup() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
