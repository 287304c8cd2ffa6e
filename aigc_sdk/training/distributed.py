"""Data-parallel training over ``torch.distributed`` (gloo on CPU, nccl on CUDA).

Processes are started by ``torchrun`` (or ``aigc train ... --nproc N``, which runs torchrun
for you). Each rank takes its slice of the same global batch. By default every trainable
sub-network of the model (a GAN's generator and discriminator, a VAE's encoder and decoder)
is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` in place
(:func:`wrap_networks`), so gradients are all-reduced in buckets while backward still runs.
``data_parallel="allreduce"`` instead averages all gradients in one flat all-reduce just
before each ``optimizer.step()`` (:class:`ManagedOptimizer`), for models that call their
networks through methods other than ``forward``. Logged metrics are averaged across ranks
(:func:`reduce_metrics`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

#: ``Trainer(data_parallel=...)`` modes.
DATA_PARALLEL_MODES = ("ddp", "allreduce")


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


class NetworkDDP(DistributedDataParallel):
    """DistributedDataParallel over one sub-network, kept under the model's attribute.

    Calls go through ``forward`` (which is what lets DDP synchronise gradients). Plain
    attributes of the network (``latent_dim``, ``num_classes``, ...) stay readable; its other
    methods do not, because calling them would skip the gradient synchronisation silently.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            value = getattr(self.module, name)
            if callable(value):
                raise AttributeError(
                    f"{type(self.module).__name__}.{name}() is not reachable under DistributedDataParallel "
                    "(only forward() synchronises gradients); train this model with "
                    "data_parallel='allreduce' (CLI --data-parallel allreduce)"
                ) from None
            return value


@dataclass(frozen=True)
class WrappedNetwork:
    """A network :func:`wrap_networks` put inside DDP: where it lives and what to restore."""

    attribute: str
    network: torch.nn.Module
    batchnorm_types: dict[str, type[torch.nn.Module]]


def _no_forward_buffer_sync() -> dict[str, Any]:
    """DDP's switch for "no buffer broadcast on forward", under its current or older name."""
    import inspect

    params = inspect.signature(DistributedDataParallel.__init__).parameters
    return (
        {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
    )


def wrap_networks(
    model: torch.nn.Module, device: torch.device, *, sync_batchnorm: bool = False
) -> list[WrappedNetwork]:
    """Wrap each trainable direct child of ``model`` in :class:`NetworkDDP`, in place.

    Returns the records :func:`unwrap_networks` and :func:`plain_networks` take. Buffers are not
    broadcast (BatchNorm statistics stay per rank, unless ``sync_batchnorm`` converts
    BatchNorm layers to SyncBatchNorm, which needs CUDA), so a forward pass on one rank alone,
    such as rank 0 drawing a sample grid, never waits for the others.
    """
    if sync_batchnorm and device.type == "cpu":
        raise ValueError(
            "sync_batchnorm=True needs CUDA devices (torch's SyncBatchNorm has no CPU kernel); "
            "train without it on CPU (BatchNorm statistics are then per rank)"
        )
    wrapped = []
    for name, child in list(model.named_children()):
        if not any(p.requires_grad for p in child.parameters()):
            continue  # e.g. a GAN's EMA generator
        types = _batchnorm_types(child)
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(child) if sync_batchnorm else child
        ids = None
        if device.type == "cuda":
            ids = [device.index if device.index is not None else torch.cuda.current_device()]
        setattr(model, name, NetworkDDP(net, device_ids=ids, **_no_forward_buffer_sync()))
        wrapped.append(WrappedNetwork(name, net, types))
    return wrapped


def unwrap_networks(model: torch.nn.Module, wrapped: list[WrappedNetwork]) -> None:
    """Put the plain networks back (SyncBatchNorm layers become BatchNorm again)."""
    for w in wrapped:
        setattr(model, w.attribute, revert_sync_batchnorm(w.network, w.batchnorm_types))


@contextmanager
def plain_networks(model: torch.nn.Module, wrapped: list[WrappedNetwork]) -> Iterator[None]:
    """Within the block the model holds its plain networks (state-dict keys without ``module.``)."""
    held = [(w.attribute, getattr(model, w.attribute)) for w in wrapped]
    for w in wrapped:
        setattr(model, w.attribute, w.network)
    try:
        yield
    finally:
        for name, ddp in held:
            setattr(model, name, ddp)


def _batchnorm_types(module: torch.nn.Module) -> dict[str, type[torch.nn.Module]]:
    """Qualified name -> class of every BatchNorm layer (SyncBatchNorm conversion forgets it)."""
    return {
        n: type(m) for n, m in module.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    }


def revert_sync_batchnorm(
    module: torch.nn.Module, types: dict[str, type[torch.nn.Module]], prefix: str = ""
) -> torch.nn.Module:
    """Replace SyncBatchNorm layers by their original BatchNorm classes, same parameters and buffers."""
    if isinstance(module, torch.nn.SyncBatchNorm):
        cls = types.get(prefix, torch.nn.BatchNorm2d)
        bn = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        bn.load_state_dict(module.state_dict())
        return bn.train(module.training).to(
            module.running_mean.device if module.running_mean is not None else "cpu"
        )
    for name, child in list(module.named_children()):
        setattr(module, name, revert_sync_batchnorm(child, types, f"{prefix}.{name}" if prefix else name))
    return module


def cleanup() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
