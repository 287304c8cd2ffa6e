"""Conformance suites for network plugins: generators, discriminators, encoders, decoders.

Subclass the suite of your network's kind in a ``Test*`` class and set ``network_name``
(and ``config`` for a small, fast network)::

    from aigc_sdk.testing import DiscriminatorConformance

    class TestMyDiscriminator(DiscriminatorConformance):
        network_name = "my-d"
        config = {"channels": 8}
        data_shapes = [(1, 28, 28), (3, 32, 32)]

Every check runs on each shape in ``data_shapes``, unconditional and (when ``conditional``)
with ``num_classes`` classes: the network is built through :func:`aigc_sdk.create_network`,
returns the interface type, gives outputs of the right shape, range and dtype, responds to its
condition, is deterministic under a seed, passes gradients to every parameter, and names a
config key it does not accept.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor, nn

import aigc_sdk
from aigc_sdk import interfaces


class NetworkConformance:
    """Checks shared by every network kind; the kind suites below fill in ``kind``."""

    #: ``"generator"``, ``"discriminator"``, ``"encoder"`` or ``"decoder"`` (set by the suites).
    kind: ClassVar[str] = ""
    #: The name your plugin registers the network under.
    network_name: ClassVar[str] = ""
    #: The network's own keyword options (small widths keep the suite fast).
    config: ClassVar[dict[str, Any]] = {}
    #: Data shapes to check; use image shapes your network supports, or vectors.
    data_shapes: ClassVar[list[tuple[int, ...]]] = [(1, 8, 8)]
    #: Whether to check conditioning on class labels as well.
    conditional: ClassVar[bool] = True
    num_classes: ClassVar[int] = 3
    latent_dim: ClassVar[int] = 8
    batch_size: ClassVar[int] = 4

    # -- hooks for authors -------------------------------------------------------------
    def make_network(self, data_shape: tuple[int, ...], num_classes: int | None) -> nn.Module:
        """Build the network under test through the public registry."""
        if not self.network_name:
            pytest.fail(f"set `network_name` on your {type(self).__name__} subclass")
        return aigc_sdk.create_network(
            self.kind,
            self.network_name,
            data_shape=list(data_shape),
            num_classes=num_classes,
            latent_dim=self.latent_dim,
            **self.config,
        )

    def make_input(
        self, data_shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """The network's input: latents for generators/decoders, data in [0, 1] otherwise."""
        g = torch.Generator().manual_seed(seed)
        if self.kind in ("generator", "decoder"):
            return torch.randn(self.batch_size, self.latent_dim, generator=g, dtype=dtype)
        return torch.rand(self.batch_size, *data_shape, generator=g, dtype=dtype)

    def check_output(self, out: Tensor, data_shape: tuple[int, ...]) -> None:
        """Kind-specific shape and range checks (overridden by each suite)."""

    # -- helpers -----------------------------------------------------------------------
    def _cases(self) -> list[tuple[tuple[int, ...], int | None]]:
        classes = [None, self.num_classes] if self.conditional else [None]
        return [(tuple(s), k) for s in self.data_shapes for k in classes]

    def _labels(self, num_classes: int | None) -> Tensor | None:
        return None if num_classes is None else torch.arange(self.batch_size) % num_classes

    def _out(self, net: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
        if self.kind == "discriminator" and isinstance(net, interfaces.ScoringDiscriminator):
            # Exercise the class logits too, so an auxiliary head's parameters get gradients.
            logits, class_logits = net.scores(x, y)
            return logits if class_logits is None else logits + class_logits.mean(1)
        out = net(x, y)
        if isinstance(out, tuple):  # an encoder may return (mu, logvar)
            out = torch.cat(list(out), dim=1)
        return out  # type: ignore[no-any-return]

    # -- the suite --------------------------------------------------------------------
    def test_is_registered_and_has_the_interface_type(self) -> None:
        """Listed by list_networks; create_network returns the kind's interface class."""
        assert self.network_name in aigc_sdk.list_networks(self.kind)
        expected = getattr(interfaces, self.kind.capitalize())
        for shape, k in self._cases():
            assert isinstance(self.make_network(shape, k), expected)

    def test_output_shape_range_and_finiteness(self) -> None:
        """Outputs have the kind's shape, are finite and (for image generators) lie in [0, 1]."""
        for shape, k in self._cases():
            torch.manual_seed(0)
            net = self.make_network(shape, k).train()
            out = self._out(net, self.make_input(shape), self._labels(k))
            assert torch.isfinite(out).all(), f"non-finite output for data_shape={shape}"
            self.check_output(out, shape)

    def test_condition_changes_the_output_and_is_required(self) -> None:
        """A conditional network's output depends on the labels; omitting them is a clear error."""
        if not self.conditional:
            pytest.skip("conditional = False")
        for shape, _ in self._cases()[::2]:
            torch.manual_seed(0)
            net = self.make_network(shape, self.num_classes).eval()
            x = self.make_input(shape)
            a = self._out(net, x, torch.zeros(self.batch_size, dtype=torch.long))
            b = self._out(net, x, torch.ones(self.batch_size, dtype=torch.long))
            assert not torch.equal(a, b), f"labels do not change the output for data_shape={shape}"
            with pytest.raises((ValueError, TypeError), match=r"condition|label|class"):
                net(x, None)

    def test_seeded_construction_is_deterministic(self) -> None:
        """The same torch seed builds the same parameters and the same outputs."""
        for shape, k in self._cases():
            nets = []
            for _ in range(2):
                torch.manual_seed(7)
                nets.append(self.make_network(shape, k).eval())
            for (n1, p1), (n2, p2) in zip(nets[0].state_dict().items(), nets[1].state_dict().items()):
                assert n1 == n2 and torch.equal(p1, p2), f"{n1} differs between two seeded builds"
            x, y = self.make_input(shape), self._labels(k)
            assert torch.equal(self._out(nets[0], x, y), self._out(nets[1], x, y))

    def test_gradients_reach_every_parameter(self) -> None:
        """Backward of the output reaches every trainable parameter with a finite gradient."""
        for shape, k in self._cases():
            torch.manual_seed(0)
            net = self.make_network(shape, k).train()
            y = self._labels(k)
            self._out(net, self.make_input(shape), y).square().mean().backward()
            params = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
            missing = [n for n, p in params if p.grad is None]
            assert not missing, f"no gradient for {missing[:5]} (data_shape={shape}, num_classes={k})"
            assert all(torch.isfinite(p.grad).all() for _, p in params)  # type: ignore[arg-type]
            zero = [n for n, p in params if not p.grad.abs().sum() > 0]  # type: ignore[union-attr]
            assert len(zero) <= len(params) // 4, f"zero gradient for {zero[:5]}"

    def test_float64(self) -> None:
        """After ``.double()`` the network computes in float64."""
        shape, k = self._cases()[0]
        torch.manual_seed(0)
        net = self.make_network(shape, k).double().eval()
        out = self._out(net, self.make_input(shape, dtype=torch.float64), self._labels(k))
        assert out.dtype == torch.float64

    def test_unknown_config_key_is_named(self) -> None:
        """A config key the network does not accept is an error naming it."""
        shape, k = self._cases()[0]
        with pytest.raises((ValueError, TypeError), match="no_such_option"):
            aigc_sdk.create_network(
                self.kind,
                self.network_name,
                data_shape=list(shape),
                num_classes=k,
                latent_dim=self.latent_dim,
                **{**self.config, "no_such_option": 1},
            )


class GeneratorConformance(NetworkConformance):
    """Generators: ``(N, latent_dim)`` -> ``(N, *data_shape)``; images in [0, 1]."""

    kind = "generator"

    def check_output(self, out: Tensor, data_shape: tuple[int, ...]) -> None:
        """Sample shape, and [0, 1] for images."""
        assert out.shape == (self.batch_size, *data_shape)
        if len(data_shape) == 3:
            assert out.min() >= 0 and out.max() <= 1, "image generators must output values in [0, 1]"


class DiscriminatorConformance(NetworkConformance):
    """Discriminators: ``(N, *data_shape)`` -> ``(N,)`` logits."""

    kind = "discriminator"

    def check_output(self, out: Tensor, data_shape: tuple[int, ...]) -> None:
        """One logit per sample."""
        assert out.shape == (self.batch_size,), (
            f"expected ({self.batch_size},) logits, got {tuple(out.shape)}"
        )


class EncoderConformance(NetworkConformance):
    """Encoders: ``(N, *data_shape)`` -> ``(N, latent_dim)``."""

    kind = "encoder"

    def check_output(self, out: Tensor, data_shape: tuple[int, ...]) -> None:
        """One code of ``latent_dim`` per sample."""
        assert out.shape == (self.batch_size, self.latent_dim)


class DecoderConformance(NetworkConformance):
    """Decoders: ``(N, latent_dim)`` -> ``(N, *data_shape)`` pre-activation outputs."""

    kind = "decoder"

    def check_output(self, out: Tensor, data_shape: tuple[int, ...]) -> None:
        """Sample shape."""
        assert out.shape == (self.batch_size, *data_shape)


__all__ = [
    "DecoderConformance",
    "DiscriminatorConformance",
    "EncoderConformance",
    "GeneratorConformance",
    "NetworkConformance",
]
