"""reparameterize: sampling statistics, reproducibility, gradients, KL, errors."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import aigc_sdk.ops as ops
from aigc_sdk.ops import _ext, functional, reference

from .conftest import needs_ext


@needs_ext
def test_statistics_1e6(device):
    torch.manual_seed(1234)
    mu = torch.full((1000, 1000), 0.5, device=device)
    logvar = torch.full((1000, 1000), 2 * torch.log(torch.tensor(1.5)).item(), device=device)
    z = ops.reparameterize(mu, logvar)
    eps = ((z.double() - 0.5) / 1.5).flatten().cpu()
    n = eps.numel()
    assert abs(eps.mean().item()) < 5 / n**0.5
    assert abs(eps.var().item() - 1) < 5 * (2 / n) ** 0.5
    assert stats.kstest(eps.numpy(), "norm").pvalue > 1e-4
    # Tails: the transform reaches beyond 5 sigma at the expected rate (~5.7e-7 * n).
    assert (eps.abs() > 4).sum().item() > 20


@needs_ext
def test_pairs_uncorrelated():
    """Box-Muller partners (elements 16 apart) and neighbours are independent."""
    torch.manual_seed(5)
    mu = torch.zeros(1 << 20)
    e = ops.reparameterize(mu, mu).view(-1, 64)
    for a, b in [(0, 16), (0, 1), (32, 48), (15, 16)]:
        r = torch.corrcoef(torch.stack([e[:, a], e[:, b]]))[0, 1].item()
        assert abs(r) < 0.02


@needs_ext
def test_reproducible_and_advancing(device):
    mu = torch.randn(37, 29, device=device)
    lv = torch.randn(37, 29, device=device)
    torch.manual_seed(7)
    a1 = ops.reparameterize(mu, lv)
    a2 = ops.reparameterize(mu, lv)
    torch.manual_seed(7)
    b1 = ops.reparameterize(mu, lv)
    b2 = ops.reparameterize(mu, lv)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, a2)  # successive calls use fresh streams
    g = torch.Generator(device=device).manual_seed(3)
    c1 = ops.reparameterize(mu, lv, generator=g)
    g.manual_seed(3)
    assert torch.equal(c1, ops.reparameterize(mu, lv, generator=g))


@needs_ext
def test_thread_count_independent():
    mu = torch.randn(513, 257)
    lv = torch.randn(513, 257)
    n = torch.get_num_threads()
    res = []
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            torch.manual_seed(11)
            res.append(ops.reparameterize(mu, lv, return_kl=True))
    finally:
        torch.set_num_threads(n)
    for z, kl in res[1:]:
        assert torch.equal(z, res[0][0]) and torch.equal(kl, res[0][1])


@needs_ext
def test_eps_independent_of_offset_alignment():
    """Element i always gets the i-th normal of the stream, whatever the shape."""
    torch.manual_seed(0)
    z, _, state = functional._reparameterize_with_state(torch.zeros(3, 41), torch.zeros(3, 41))
    e = functional._regenerate_eps(torch.empty(123), state)
    torch.testing.assert_close(z.flatten(), e, rtol=0, atol=0)


@needs_ext
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", [(64, 33), (5,), (2, 3, 130), ()])
@pytest.mark.parametrize("return_kl", [False, True])
def test_forward_backward_match_reference_given_eps(dtype, shape, return_kl, device):
    torch.manual_seed(3)
    mu0 = torch.randn(shape, device=device).to(dtype)
    lv0 = (torch.randn(shape, device=device) * 0.5).to(dtype)
    res = []
    mu = mu0.clone().requires_grad_()
    lv = lv0.clone().requires_grad_()
    z, kl, state = functional._reparameterize_with_state(mu, lv, None, return_kl)
    eps = functional._regenerate_eps(mu, state)
    res.append((z, kl, mu, lv))
    mr = mu0.clone().requires_grad_()
    lr = lv0.clone().requires_grad_()
    out = reference.reparameterize(mr, lr, return_kl=return_kl, eps=eps)
    zr, klr = out if return_kl else (out, None)
    tol = (
        dict(atol=1e-5, rtol=1e-5) if dtype in (torch.float32, torch.float64) else dict(atol=3e-2, rtol=3e-2)
    )
    torch.testing.assert_close(z, zr, **tol)
    gz = torch.randn(shape, device=device).to(dtype)
    loss = (z * gz).sum()
    loss_r = (zr * gz).sum()
    if return_kl:
        torch.testing.assert_close(kl, klr, **tol)
        gk = torch.randn(klr.shape, device=device).to(dtype)
        loss = loss + (kl * gk).sum()
        loss_r = loss_r + (klr * gk).sum()
    g = torch.autograd.grad(loss, (mu, lv))
    gr = torch.autograd.grad(loss_r, (mr, lr))
    for a, r in zip(g, gr):
        torch.testing.assert_close(a, r, **tol)


@needs_ext
def test_gradcheck_given_fixed_stream():
    """Finite differences see the same eps on every call when the generator is reset each time."""
    g = torch.Generator()
    mu = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    lv = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)

    def f(mu: torch.Tensor, lv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g.manual_seed(0)
        z, kl = ops.reparameterize(mu, lv, generator=g, return_kl=True)
        return z, kl

    assert torch.autograd.gradcheck(f, (mu, lv))


@needs_ext
def test_kl_only_backward_and_empty():
    mu = torch.randn(8, 4, requires_grad=True)
    lv = torch.randn(8, 4, requires_grad=True)
    _, kl = ops.reparameterize(mu, lv, return_kl=True)
    kl.sum().backward()
    torch.testing.assert_close(mu.grad, mu.detach())
    torch.testing.assert_close(lv.grad, 0.5 * (lv.detach().exp() - 1))
    for shape in [(0, 4), (4, 0)]:
        m = torch.zeros(shape, requires_grad=True)
        z, kl = ops.reparameterize(m, torch.zeros(shape), return_kl=True)
        assert z.shape == shape and kl.shape == shape[:-1]
        (z.sum() + kl.sum()).backward()


@needs_ext
def test_opcheck():
    mu = torch.randn(8, 5, requires_grad=True)
    lv = torch.randn(8, 5, requires_grad=True)
    op = torch.ops.aigc_sdk.reparameterize.default
    for args in [(mu, lv, None, True), (mu, lv, None, False)]:
        torch.library.opcheck(op, args)


def test_bad_input():
    mu = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="logvar must have the shape"):
        ops.reparameterize(mu, torch.zeros(4, 2))
    with pytest.raises(TypeError, match="mu must be"):
        ops.reparameterize(torch.zeros(4, 3, dtype=torch.int64), torch.zeros(4, 3))
    with pytest.raises(TypeError, match="logvar must be"):
        ops.reparameterize(mu, torch.zeros(4, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match="dtype of mu"):
        ops.reparameterize(mu, torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="device"):
        ops.reparameterize(mu, torch.zeros(4, 3, device="meta"))


@needs_ext
def test_raw_backward_op_checks_its_arguments():
    """The backward op validates its inputs too (callers of torch.ops): no out-of-bounds reads."""
    bwd = torch.ops.aigc_sdk.reparameterize_backward
    mu, lv = torch.zeros(4, 3), torch.zeros(4, 3)
    _, _, state = functional._reparameterize_with_state(mu, lv)
    dmu, dlv = bwd(torch.ones(4, 3), torch.ones(4), mu, lv, state)
    assert dmu.shape == dlv.shape == (4, 3)
    with pytest.raises(ValueError, match="grad_z must have the shape"):
        bwd(torch.ones(4, 2), None, None, lv, state)
    with pytest.raises(ValueError, match="needs mu"):
        bwd(torch.ones(4, 3), torch.ones(4), None, lv, state)
    with pytest.raises(ValueError, match="mu must have the shape"):
        bwd(torch.ones(4, 3), torch.ones(4), torch.zeros(2, 3), lv, state)
    with pytest.raises(ValueError, match=r"grad_kl must have shape"):
        bwd(torch.ones(4, 3), torch.ones(2), mu, lv, state)
    with pytest.raises(TypeError, match="grad_kl must be"):
        bwd(torch.ones(4, 3), torch.ones(4, dtype=torch.int64), mu, lv, state)
    with pytest.raises(ValueError, match="rng_state"):
        bwd(torch.ones(4, 3), None, None, lv, torch.zeros(3, dtype=torch.int64))


def test_nan_propagates():
    mu = torch.tensor([[float("nan"), 0.0], [0.0, 0.0]])
    lv = torch.tensor([[0.0, float("inf")], [0.0, float("nan")]])
    z, kl = ops.reparameterize(mu, lv, return_kl=True)
    assert torch.isnan(z[0, 0]) and torch.isnan(kl[0]) and torch.isnan(z[1, 1])
    assert torch.isfinite(z[1, 0])


@needs_ext
@pytest.mark.parametrize("return_kl", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_double_backward_matches_reference_given_eps(return_kl, dtype, device):
    """Second derivatives through reparameterize (create_graph=True) are computed, not None."""
    torch.manual_seed(5)
    mu0 = torch.randn(6, 7, dtype=dtype, device=device)
    lv0 = torch.randn(6, 7, dtype=dtype, device=device) * 0.5
    gz = torch.randn(6, 7, dtype=dtype, device=device)
    gk = torch.randn(6, dtype=dtype, device=device)
    w = torch.randn(6, 7, dtype=dtype, device=device)
    res = []
    eps = None
    for use_ext in (True, False):
        mu = mu0.clone().requires_grad_()
        lv = lv0.clone().requires_grad_()
        if use_ext:
            z, kl, state = functional._reparameterize_with_state(mu, lv, None, return_kl)
            eps = functional._regenerate_eps(mu, state)
        else:
            out = reference.reparameterize(mu, lv, return_kl=return_kl, eps=eps)
            z, kl = out if return_kl else (out, None)
        loss = (z * gz).sum() + ((kl * gk).sum() if return_kl else 0)
        dmu, dlv = torch.autograd.grad(loss, (mu, lv), create_graph=True)
        assert dlv.requires_grad
        second = (dlv.square() * w).sum() + (dmu * dlv).sum()
        res.append((dmu, dlv, *torch.autograd.grad(second, (mu, lv), materialize_grads=True)))
    tol = dict(atol=1e-10, rtol=1e-10) if dtype == torch.float64 else dict(atol=1e-5, rtol=1e-5)
    for a, r in zip(*res):
        torch.testing.assert_close(a, r, **tol)


@needs_ext
def test_gradgradcheck_given_fixed_stream():
    g = torch.Generator()
    mu = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    lv = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)

    def f(mu: torch.Tensor, lv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g.manual_seed(0)
        z, kl = ops.reparameterize(mu, lv, generator=g, return_kl=True)
        return z, kl

    assert torch.autograd.gradgradcheck(f, (mu, lv))

    def f0(lv: torch.Tensor) -> torch.Tensor:
        g.manual_seed(1)
        return ops.reparameterize(torch.zeros(3, 5, dtype=torch.float64), lv, generator=g)

    assert torch.autograd.gradgradcheck(f0, (lv,))


# logvar around float32's exp overflow (88.72): exp(logvar) overflows, 0.5 * expm1(logvar) only
# from about 89.4; and near 0, where exp(logvar) - 1 cancels.
_EDGE_LV = [-30.0, -1e-3, -1e-7, 0.0, 1e-7, 1e-3, 80.0, 88.0, 88.5, 88.7, 88.8, 89.0, 89.3]


@pytest.mark.parametrize("path", ["ext", "reference"])
@pytest.mark.parametrize("gk", [1.0, 1.5])
@pytest.mark.parametrize("create_graph", [False, True])
def test_kl_logvar_gradient_at_float32_edges(path, gk, create_graph):
    """d kl / d logvar = 0.5 * expm1(logvar) * grad_kl: finite and accurate in float32, like float64."""
    if path == "ext" and not _ext.LOADED:
        pytest.skip("compiled extension not in use")
    lv64 = torch.tensor(_EDGE_LV, dtype=torch.float64).view(-1, 1)
    lv = lv64.float().requires_grad_()
    mu = torch.zeros_like(lv, requires_grad=True)
    if path == "ext":
        _, kl, _ = functional._reparameterize_with_state(mu, lv, None, True)
    else:
        _, kl = reference.reparameterize(mu, lv, return_kl=True, eps=torch.zeros_like(lv))
    (dlv,) = torch.autograd.grad(kl, lv, torch.full_like(kl, gk), create_graph=create_graph)
    want = 0.5 * torch.expm1(lv.detach().double()) * gk
    fits = want.abs() < torch.finfo(torch.float32).max
    assert torch.isfinite(dlv[fits]).all(), dlv.flatten().tolist()
    torch.testing.assert_close(dlv[fits].double(), want[fits], rtol=2e-6, atol=0)
    # The forward KL (halved per element before the sum) is finite there too.
    kl_want = -0.5 * (1 + lv.detach().double() - torch.exp(lv.detach().double())).sum(-1)
    kfits = kl_want.abs() < torch.finfo(torch.float32).max
    torch.testing.assert_close(kl.detach()[kfits].double(), kl_want[kfits], rtol=2e-6, atol=1e-6)


@needs_ext
def test_reproduction_kl_gradient_at_logvar_88_5():
    mu = torch.zeros(1, 1, requires_grad=True)
    lv = torch.full((1, 1), 88.5, requires_grad=True)
    _, kl = ops.reparameterize(mu, lv, return_kl=True)
    (kl * 2.0).sum().backward()
    want = 0.5 * math.expm1(88.5) * 2.0
    assert math.isfinite(lv.grad.item())
    assert abs(lv.grad.item() - want) <= 2e-6 * want
