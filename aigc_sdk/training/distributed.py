"""Data-parallel training over ``torch.distributed`` (gloo on CPU, nccl on CUDA).

Processes are started by ``torchrun`` (or ``aigc train ... --nproc N``, which runs
torchrun for you). Each rank takes its slice of the same global batch, and gradients are
averaged across ranks just before every ``optimizer.step()`` by :class:`ManagedOptimizer`;
that works for models with several optimizers (GANs) without wrapping modules in DDP.
Logged metrics are averaged across ranks (:func:`reduce_metrics`).
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
    """Wraps an optimizer handed to ``model.training_step``.

    Before the wrapped ``step()`` it averages gradients across ranks (when distributed),
    unscales them (fp16 loss scaling) and clips their norm (when asked). With gradient
    accumulation over K micro-batches, ``step()`` on the first K - 1 only adds the gradients
    the model would have stepped with to a buffer; on the last it steps once with their mean.
    The model keeps its usual ``zero_grad(); backward; step()`` sequence either way.

    Models should call ``optimizer.backward(loss)`` rather than ``loss.backward()``: it scales
    the loss when fp16 loss scaling is on (required then) and is plain ``backward`` otherwise.
    Everything else (``zero_grad``, ``param_groups``, ``state_dict`` ...) is forwarded.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        world_size: int = 1,
        grad_clip: float | None = None,
        scaler: torch.amp.GradScaler | None = None,
        accumulate: int = 1,
    ):
        self.optimizer = optimizer
        self.world_size = world_size
        self.grad_clip = grad_clip
        self.scaler = scaler
        self.accumulate = accumulate
        self.last_grad_norm: float | None = None
        self._last_micro = True
        self._scaled_backward = False
        self._buffer: dict[torch.nn.Parameter, torch.Tensor] = {}

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for g in self.optimizer.param_groups for p in g["params"] if p.requires_grad]

    def begin_micro_batch(self, index: int) -> None:
        """Called by the Trainer before each micro-batch (``index`` counts from 0)."""
        self._last_micro = index == self.accumulate - 1

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """``loss.backward(**kwargs)``, with the loss scaled when fp16 loss scaling is on."""
        if self.scaler is not None:
            self._scaled_backward = True
            self.scaler.scale(loss).backward(**kwargs)
        else:
            loss.backward(**kwargs)

    def step(self, closure: Any = None) -> Any:
        """Accumulate, synchronise, unscale and clip gradients, then step the wrapped optimizer."""
        params = self._params()
        if self.scaler is not None and not self._scaled_backward:
            raise RuntimeError(
                "precision='fp16' scales the loss: training_step must call optimizers[name].backward(loss) "
                "instead of loss.backward(); use precision='bf16' for a model that cannot"
            )
        self._scaled_backward = False
        if self.accumulate > 1:
            for p in params:
                if p.grad is not None:
                    held = self._buffer.get(p)
                    self._buffer[p] = p.grad.detach().clone() if held is None else held.add_(p.grad)
            if not self._last_micro:
                return None
            for p in params:
                held = self._buffer.pop(p, None)
                p.grad = None if held is None else held.div_(self.accumulate)
        if self.world_size > 1:
            average_gradients(params, self.world_size)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.grad_clip is not None:
            with_grad = [p for p in params if p.grad is not None]
            norm = torch.nn.utils.clip_grad_norm_(with_grad, self.grad_clip)
            self.last_grad_norm = float(norm)
        if self.scaler is not None:
            return self.scaler.step(self.optimizer, *(() if closure is None else (closure,)))
        return self.optimizer.step(closure) if closure is not None else self.optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forwarded to the wrapped optimizer."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)


def backward(optimizer: Any, loss: torch.Tensor) -> None:
    """Backpropagate ``loss`` for ``optimizer``: through :meth:`ManagedOptimizer.backward` when
    the Trainer manages it (fp16 loss scaling), else ``loss.backward()`` (plain optimizers)."""
    method = getattr(optimizer, "backward", None)
    if callable(method):
        method(loss)
    else:
        loss.backward()


def reduce_metrics(metrics: dict[str, float], world_size: int) -> dict[str, float]:
    """Average scalar metrics across ranks (every rank must pass the same keys)."""
    if world_size <= 1 or not metrics:
        return metrics
    keys = sorted(metrics)
    values = torch.tensor([metrics[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    return {k: float(v) / world_size for k, v in zip(keys, values.tolist(), strict=True)}


def cleanup() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
