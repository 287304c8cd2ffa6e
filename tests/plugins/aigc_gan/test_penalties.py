"""R1 / WGAN-GP penalties through the fused op's double backward vs the pure-PyTorch reference."""

from __future__ import annotations

import copy

import pytest
import torch

from aigc_gan import losses
from aigc_gan.networks import ConvDiscriminator, MLPDiscriminator
from aigc_sdk.ops import FusedLeakyReLU
from aigc_sdk.ops import reference as ref


class _ReferenceLeakyReLU(torch.nn.Module):
    """Same parameters as a FusedLeakyReLU, computed by the reference op."""

    def __init__(self, fused: FusedLeakyReLU) -> None:
        super().__init__()
        self.bias = fused.bias
        self.negative_slope, self.scale, self.dim = fused.negative_slope, fused.scale, fused.dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ref.fused_leaky_relu(x, self.bias, self.negative_slope, self.scale, self.dim)


def _to_reference(module: torch.nn.Module) -> torch.nn.Module:
    clone = copy.deepcopy(module)
    for _, child in list(clone.named_modules()):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, FusedLeakyReLU):
                setattr(child, attr, _ReferenceLeakyReLU(sub))
    assert not any(isinstance(m, FusedLeakyReLU) for m in clone.modules())
    return clone


def _r1_and_grads(disc: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None):  # type: ignore[no-untyped-def]
    x = x.clone().requires_grad_(True)
    penalty = losses.r1_penalty(disc(x, y), x)
    # The output bias does not change d D / d x, so some parameters get no gradient.
    grads = torch.autograd.grad(penalty, list(disc.parameters()), allow_unused=True)
    return penalty.detach(), [torch.zeros(()) if g is None else g for g in grads]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["conv", "mlp"])
def test_r1_through_fused_op_matches_reference(kind: str, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    if kind == "conv":
        disc: torch.nn.Module = ConvDiscriminator(
            data_shape=(1, 8, 8), channels=4, num_classes=3, hidden=8, spectral_norm=False
        )
    else:
        disc = MLPDiscriminator(data_shape=(6,), hidden=8, num_classes=3, spectral_norm=False)
    disc = disc.to(dtype)
    # Move biases off zero so the leaky branch and the bias gradient both matter.
    with torch.no_grad():
        for m in disc.modules():
            if isinstance(m, FusedLeakyReLU):
                m.bias.normal_(0, 0.5)
    x = torch.randn(5, *((1, 8, 8) if kind == "conv" else (6,)), dtype=dtype)
    y = torch.tensor([0, 1, 2, 0, 1])
    p_fused, g_fused = _r1_and_grads(disc, x, y)
    p_ref, g_ref = _r1_and_grads(_to_reference(disc), x, y)
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-11}
    torch.testing.assert_close(p_fused, p_ref, **tol)
    assert p_fused > 0
    for a, b in zip(g_fused, g_ref):
        torch.testing.assert_close(a, b, **tol)
    assert sum(float(g.abs().sum()) for g in g_fused) > 0


def test_gradient_penalty_matches_reference() -> None:
    torch.manual_seed(0)
    disc = ConvDiscriminator(data_shape=(1, 8, 8), channels=4, hidden=8, spectral_norm=False).double()
    real, fake = torch.rand(4, 1, 8, 8, dtype=torch.float64), torch.rand(4, 1, 8, 8, dtype=torch.float64)
    ref_disc = _to_reference(disc)
    a = losses.gradient_penalty(disc, real, fake, generator=torch.Generator().manual_seed(1))
    b = losses.gradient_penalty(ref_disc, real, fake, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    ga = torch.autograd.grad(a, list(disc.parameters()), allow_unused=True)
    gb = torch.autograd.grad(b, list(ref_disc.parameters()), allow_unused=True)
    for x, y in zip(ga, gb):
        assert (x is None) == (y is None)
        if x is not None:
            torch.testing.assert_close(x, y)


def test_losses_known_values() -> None:
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    torch.testing.assert_close(
        losses.discriminator_loss("hinge", real, fake), torch.tensor((0 + 2) / 2 + (1.5 + 0) / 2)
    )
    torch.testing.assert_close(losses.discriminator_loss("wgan-gp", real, fake), fake.mean() - real.mean())
    sp = torch.nn.functional.softplus
    torch.testing.assert_close(losses.generator_loss("ns", fake), sp(-fake).mean())
    with pytest.raises(ValueError, match="loss"):
        losses.check_loss("least-squares")
