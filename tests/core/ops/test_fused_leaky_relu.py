"""fused_leaky_relu / FusedLeakyReLU: agreement with the reference, gradients, layouts, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigc_sdk.ops as ops
from aigc_sdk.ops import reference

from .conftest import needs_ext

TOL = {
    torch.float32: dict(atol=1e-5, rtol=1e-5),
    torch.float64: dict(atol=1e-12, rtol=1e-12),
    torch.float16: dict(atol=2e-3, rtol=2e-3),
    torch.bfloat16: dict(atol=2e-2, rtol=2e-2),
}


def _layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "channels_last" and x.dim() == 4:
        return x.to(memory_format=torch.channels_last)
    if layout == "strided" and x.dim() >= 1 and x.shape[-1] > 1:
        # Non-dense view: every other element of a wider tensor.
        wide = torch.repeat_interleave(x, 2, dim=-1)
        return wide[..., ::2]
    if layout == "transposed" and x.dim() >= 2:
        return x.transpose(0, -1).contiguous().transpose(0, -1)
    return x


@needs_ext
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.lists(st.integers(0, 7), min_size=0, max_size=4),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16]),
    dim_seed=st.integers(0, 100),
    layout=st.sampled_from(["contiguous", "channels_last", "strided", "transposed"]),
    use_bias=st.booleans(),
    clamp=st.sampled_from([None, 0.0, 0.5, 2.0]),
    slope=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_matches_reference(shape, dtype, dim_seed, layout, use_bias, clamp, slope):
    torch.manual_seed(dim_seed)
    x = _layout(torch.randn(shape, dtype=torch.float64).to(dtype), layout)
    nd = max(x.dim(), 1)
    dim = dim_seed % (2 * nd) - nd
    c = x.shape[dim] if x.dim() else 1
    bias = torch.randn(c, dtype=dtype) if use_bias else None
    y = ops.fused_leaky_relu(x, bias, slope, 1.7, dim, clamp)
    r = reference.fused_leaky_relu(x, bias, slope, 1.7, dim, clamp)
    assert y.dtype == x.dtype and y.shape == x.shape
    torch.testing.assert_close(y, r, **TOL[dtype])
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        assert y.is_contiguous(memory_format=torch.channels_last)


@needs_ext
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
@pytest.mark.parametrize(
    "shape,dim,layout",
    [
        ((4, 32, 9, 9), 1, "contiguous"),
        ((4, 32, 9, 9), 1, "channels_last"),
        ((3, 5, 40), -1, "contiguous"),
        ((64, 300), 1, "contiguous"),
        ((2, 3, 4, 5), 2, "strided"),
        ((6, 3, 2, 2), 1, "contiguous"),
        ((7, 2, 17), 0, "contiguous"),
        ((37,), 0, "contiguous"),  # 1-D: every element is its own channel
    ],
)
def test_grads_match_reference(dtype, shape, dim, layout, device):
    torch.manual_seed(0)
    x0 = _layout(torch.randn(shape, device=device).to(dtype), layout)
    b0 = torch.randn(x0.shape[dim], device=device)
    g = torch.randn(shape, device=device).to(dtype)
    outs = []
    # The clamp mask comes from the unrounded activation, so half outputs that round onto ±clamp
    # are not counted as clamped (as in the reference).
    clamp = 1.5
    for fn in (ops.fused_leaky_relu, reference.fused_leaky_relu):
        x = x0.detach().clone().requires_grad_()
        b = b0.clone().requires_grad_()
        y = fn(x, b, 0.2, math.sqrt(2), dim, clamp)
        gx, gb = torch.autograd.grad(y, (x, b), g)
        outs.append((y, gx, gb))
    tol = TOL[dtype]
    for a, r in zip(outs[0], outs[1]):
        torch.testing.assert_close(a, r, atol=tol["atol"] * 50, rtol=tol["rtol"] * 10)
    assert outs[0][2].dtype == b0.dtype


@needs_ext
@pytest.mark.parametrize("clamp", [None, 1.0])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_gradcheck_and_gradgradcheck(clamp, layout, device):
    torch.manual_seed(1)
    x = _layout(torch.randn(2, 5, 3, 4, dtype=torch.float64, device=device), layout)
    # Keep away from the kinks (0 and ±clamp) where finite differences are meaningless.
    x = torch.where(x.abs() < 0.05, x + 0.2, x).requires_grad_()
    b = (torch.randn(5, dtype=torch.float64, device=device) * 0.01).requires_grad_()

    def f(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ops.fused_leaky_relu(x, b, 0.2, math.sqrt(2), 1, clamp)

    assert torch.autograd.gradcheck(f, (x, b))
    assert torch.autograd.gradgradcheck(f, (x, b))


@needs_ext
def test_r1_penalty_matches_reference():
    """Double backward as used by the R1 gradient penalty, through a small conv discriminator."""
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).double()
    b = torch.randn(8, dtype=torch.float64, requires_grad=True)
    img = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    grads = []
    for fn in (ops.fused_leaky_relu, reference.fused_leaky_relu):
        x = img.clone().requires_grad_()
        out = fn(conv(x), b).sum()
        (gx,) = torch.autograd.grad(out, x, create_graph=True)
        penalty = gx.square().sum()
        grads.append(torch.autograd.grad(penalty, (*conv.parameters(), b)))
    for a, r in zip(*grads):
        torch.testing.assert_close(a, r)


@needs_ext
def test_nan_inf_propagate_like_reference():
    x = torch.tensor([[float("nan"), float("inf"), -float("inf"), 1.0, -1.0, 0.0]]).T.contiguous().view(6, 1)
    for clamp in (None, 2.0):
        torch.testing.assert_close(
            ops.fused_leaky_relu(x, None, clamp=clamp),
            reference.fused_leaky_relu(x, None, clamp=clamp),
            equal_nan=True,
        )


@needs_ext
def test_empty_and_scalar():
    for shape in [(0, 3, 4), (2, 0, 4), (2, 3, 0)]:
        x = torch.randn(shape, requires_grad=True)
        b = torch.randn(shape[1], requires_grad=True)
        y = ops.fused_leaky_relu(x, b)
        assert y.shape == x.shape
        y.sum().backward()
        assert x.grad.shape == x.shape and b.grad.shape == b.shape
    s = torch.tensor(-2.0, requires_grad=True)
    y = ops.fused_leaky_relu(s, torch.tensor([0.5]), dim=0)
    torch.testing.assert_close(y, reference.fused_leaky_relu(s, torch.tensor([0.5]), dim=0))


@needs_ext
def test_bias_grad_thread_count_independent():
    x = torch.randn(16, 64, 32, 32)
    g = torch.randn_like(x)
    b = torch.zeros(64, requires_grad=True)
    n = torch.get_num_threads()
    res = []
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            (gb,) = torch.autograd.grad(ops.fused_leaky_relu(x, b), b, g)
            res.append(gb)
    finally:
        torch.set_num_threads(n)
    assert all(torch.equal(res[0], r) for r in res[1:])


@needs_ext
def test_opcheck():
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    op = torch.ops.aigc_sdk.fused_leaky_relu.default
    torch.library.opcheck(op, (x, b, 0.2, 1.4, 1, None))
    torch.library.opcheck(
        op, (x.detach().to(memory_format=torch.channels_last).requires_grad_(), b, 0.2, 1.4, 1, 0.5)
    )
    torch.library.opcheck(
        op, (torch.randn(7, 6, dtype=torch.float64, requires_grad=True), None, 0.1, 2.0, -1, None)
    )
    bwd = torch.ops.aigc_sdk.fused_leaky_relu_backward.default
    torch.library.opcheck(
        bwd,
        (
            torch.randn(2, 3, 4, 5, requires_grad=True),
            torch.randn(2, 3, 4, 5),
            torch.randn(3),
            0.2,
            1.4,
            1,
            None,
            True,
        ),
    )
    torch.library.opcheck(
        bwd, (torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5), None, 0.2, 1.4, 1, 0.5, False)
    )


def test_module():
    m = ops.FusedLeakyReLU(6, bias_init=0.1)
    assert m.bias.shape == (6,) and torch.allclose(m.bias, torch.full((6,), 0.1))
    x = torch.randn(2, 6, 3)
    y = m(x)
    torch.testing.assert_close(y, reference.fused_leaky_relu(x, m.bias.detach()))
    y.sum().backward()
    assert m.bias.grad is not None
    assert "6" in repr(m)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(bias=torch.zeros(3)), ValueError, "bias"),
        (dict(bias=torch.zeros(4, 1)), ValueError, "bias"),
        (dict(dim=4), ValueError, "dim"),
        (dict(dim=-5), ValueError, "dim"),
        (dict(clamp=-1.0), ValueError, "clamp"),
        (dict(negative_slope=-0.1), ValueError, "negative_slope"),
        (dict(scale=0.0), ValueError, "scale"),
        (dict(bias=torch.zeros(4, dtype=torch.int64)), TypeError, "bias"),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ops.fused_leaky_relu(torch.randn(2, 4, 3, 3), **kwargs)


@pytest.mark.parametrize("dtype", [torch.int32, torch.complex64, torch.bool])
def test_bad_dtype(dtype):
    with pytest.raises(TypeError, match="x must be"):
        ops.fused_leaky_relu(torch.zeros(2, 3, dtype=dtype))


@needs_ext
def test_raw_op_errors_do_not_crash():
    """The C++ op validates too (ValueError/TypeError), for callers of torch.ops directly."""
    op = torch.ops.aigc_sdk.fused_leaky_relu
    with pytest.raises(ValueError, match="bias"):
        op(torch.randn(2, 4), torch.randn(3), 0.2, 1.0, 1, None)
    with pytest.raises(ValueError, match="dim"):
        op(torch.randn(2, 4), None, 0.2, 1.0, 5, None)
    with pytest.raises(TypeError, match="x must be"):
        op(torch.zeros(2, 4, dtype=torch.int64), None, 0.2, 1.0, 1, None)
    bwd = torch.ops.aigc_sdk.fused_leaky_relu_backward
    with pytest.raises(ValueError, match="grad must have the shape"):
        bwd(torch.ones(2, 3), torch.ones(2, 4), None, 0.2, 1.0, 1, None, False)
    with pytest.raises(TypeError, match="grad must be"):
        bwd(torch.ones(2, 4, dtype=torch.int64), torch.ones(2, 4), None, 0.2, 1.0, 1, None, False)
    with pytest.raises(ValueError, match="bias must be a 1-D tensor of length"):
        bwd(torch.ones(2, 4), torch.ones(2, 4), torch.ones(3), 0.2, 1.0, 1, None, True)


# A pre-activation so small and positive that its fp16/bf16 output rounds to 0 (float32 subnormal;
# the half types compute in float32).
_TINY = 1e-42


@needs_ext
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "shape,dim",
    [((2, 4, 5, 6), 1), ((6, 4), 1), ((2, 3, 4), -1)],  # long channel runs, short ones (bias row), last dim
)
@pytest.mark.parametrize("bias_grad", [False, True])
@pytest.mark.parametrize("clamp", [None, 1.0])
def test_tiny_positive_half_input_gets_slope_one(dtype, shape, dim, bias_grad, clamp, device):
    """The slope comes from x + bias, not from the output, which rounded to 0 here."""
    scale, slope = 1.7, 0.2
    c = shape[dim]
    sign = torch.tensor([1.0, -1.0] * c)[:c]
    bias0 = (sign * _TINY).to(device)
    x0 = torch.zeros(shape, dtype=dtype, device=device)
    view = [1] * len(shape)
    view[dim] = c
    want = torch.where(sign > 0, scale, slope * scale).view(view).expand(shape).to(device)
    for fn in (ops.fused_leaky_relu, reference.fused_leaky_relu):
        x = x0.clone().requires_grad_()
        b = bias0.clone().requires_grad_(bias_grad)
        y = fn(x, b, slope, scale, dim, clamp)
        assert torch.equal(y, torch.zeros_like(y))  # the output alone cannot tell the two signs apart
        g = torch.ones_like(y)
        grads = torch.autograd.grad(y, (x, b) if bias_grad else (x,), g)
        torch.testing.assert_close(grads[0].float(), want, rtol=1e-2, atol=0)
        if bias_grad:
            other = [i for i in range(len(shape)) if i != dim % len(shape)]
            torch.testing.assert_close(grads[1], want.sum(other), rtol=1e-2, atol=0)
        # A gradient broadcast from one value takes the scalar-grad path of the CPU kernel.
        x.grad = None
        fn(x, bias0, slope, scale, dim, clamp).sum().backward()
        torch.testing.assert_close(x.grad.float(), want, rtol=1e-2, atol=0)


@needs_ext
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_tiny_positive_half_input_without_bias(dtype, device):
    """Same without a bias: a smallest-subnormal input times a small scale rounds to 0."""
    fi = torch.finfo(dtype)
    x = torch.full((3, 4), fi.smallest_normal * fi.eps, dtype=dtype, device=device)  # smallest subnormal
    assert (x > 0).all()
    x = torch.cat([x, -x]).requires_grad_()
    y = ops.fused_leaky_relu(x, None, 0.2, 0.25, 1)
    assert torch.equal(y.abs(), torch.zeros_like(y))
    (gx,) = torch.autograd.grad(y, x, torch.ones_like(y))
    want = torch.tensor([0.25] * 3 + [0.05] * 3, device=device).view(6, 1).expand(6, 4)
    torch.testing.assert_close(gx.float(), want, rtol=1e-2, atol=0)


@needs_ext
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_tiny_positive_half_input_raw_backward_and_double_backward(dtype, device):
    """The backward op itself takes the pre-activation, and so does its own derivative (R1 path)."""
    x = torch.zeros(2, 2, 3, dtype=dtype, device=device)
    b = torch.tensor([_TINY, -_TINY], device=device)
    g = torch.ones_like(x)
    gx, gb = torch.ops.aigc_sdk.fused_leaky_relu_backward(g, x, b, 0.2, 2.0, 1, None, True)
    want = torch.tensor([2.0, 0.4], device=device).view(1, 2, 1).expand_as(x)
    torch.testing.assert_close(gx.float(), want, rtol=1e-2, atol=0)
    torch.testing.assert_close(gb, torch.tensor([12.0, 2.4], device=device), rtol=1e-2, atol=0)
    xr = x.clone().requires_grad_()
    w = torch.ones_like(x, requires_grad=True)
    (gx,) = torch.autograd.grad(ops.fused_leaky_relu(xr, b, 0.2, 2.0, 1), xr, w, create_graph=True)
    (gw,) = torch.autograd.grad(gx.float().sum(), w)
    torch.testing.assert_close(gw.float(), want, rtol=1e-2, atol=0)
