"""Every raw op, the fake (meta) kernels included, rejects tensors on different devices.

A meta tensor among CPU/CUDA ones makes the dispatcher run the fake kernel, which no backend check
sees: without its own checks it returned uninitialised memory.
"""

from __future__ import annotations

import pytest
import torch

from aigc_sdk.ops import functional

from .conftest import needs_ext

pytestmark = needs_ext

OPS = torch.ops.aigc_sdk


def _state() -> torch.Tensor:
    return functional._reparameterize_with_state(torch.zeros(4, 3), torch.zeros(4, 3))[2]


def _cases(dev: str) -> list[tuple[str, object, str]]:
    """(id, call, expected message) with one argument on meta and the others on `dev`."""
    x, b, g = torch.ones(2, 3, 4, device=dev), torch.zeros(3, device=dev), torch.ones(2, 3, 4, device=dev)
    mu, lv = torch.zeros(4, 3, device=dev), torch.zeros(4, 3, device=dev)
    gk = torch.ones(4, device=dev)
    st = _state()
    m = "meta"

    def meta(t: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(t, device=m)

    d = torch.device(dev)
    return [
        (
            "lrelu-bias",
            lambda: OPS.fused_leaky_relu(x, meta(b), 0.2, 1.0, 1, None),
            f"bias .* x \\({d}\\), got meta",
        ),
        (
            "lrelu-x",
            lambda: OPS.fused_leaky_relu(meta(x), b, 0.2, 1.0, 1, None),
            f"bias .* x \\(meta\\), got {d}",
        ),
        (
            "lrelu_bwd-grad",
            lambda: OPS.fused_leaky_relu_backward(meta(g), x, b, 0.2, 1.0, 1, None, True),
            f"grad .* x \\({d}\\), got meta",
        ),
        (
            "lrelu_bwd-x",
            lambda: OPS.fused_leaky_relu_backward(g, meta(x), None, 0.2, 1.0, 1, None, False),
            f"grad .* x \\(meta\\), got {d}",
        ),
        (
            "lrelu_bwd-bias",
            lambda: OPS.fused_leaky_relu_backward(g, x, meta(b), 0.2, 1.0, 1, None, True),
            f"bias .* x \\({d}\\), got meta",
        ),
        (
            "reparam-logvar",
            lambda: OPS.reparameterize(mu, meta(lv), None, True),
            f"logvar .* mu \\({d}\\), got meta",
        ),
        (
            "reparam-mu",
            lambda: OPS.reparameterize(meta(mu), lv, None, False),
            f"logvar .* mu \\(meta\\), got {d}",
        ),
        (
            "reparam_bwd-grad_z",
            lambda: OPS.reparameterize_backward(meta(lv), None, None, lv, st),
            f"grad_z .* logvar \\({d}\\), got meta",
        ),
        (
            "reparam_bwd-grad_kl",
            lambda: OPS.reparameterize_backward(lv, meta(gk), mu, lv, st),
            f"grad_kl .* logvar \\({d}\\), got meta",
        ),
        (
            "reparam_bwd-mu",
            lambda: OPS.reparameterize_backward(lv, gk, meta(mu), lv, st),
            f"mu .* logvar \\({d}\\), got meta",
        ),
        (
            "reparam_bwd-rng_state",
            lambda: OPS.reparameterize_backward(lv, None, None, lv, meta(st)),
            "rng_state must be the CPU int64 tensor .* got a meta",
        ),
        ("regenerate_eps-rng_state", lambda: OPS._regenerate_eps(lv, meta(st)), "rng_state .* got a meta"),
    ]


IDS = [c[0] for c in _cases("cpu")]


@pytest.mark.parametrize("case", range(len(IDS)), ids=IDS)
def test_meta_mixed_with_real_tensors_is_an_error(case, device):
    _, call, match = _cases(device)[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_reproduction_lrelu_meta_bias():
    with pytest.raises(ValueError, match=r"bias must be on the same device as x \(cpu\), got meta"):
        OPS.fused_leaky_relu(torch.ones(2, 3, 4), torch.zeros(3, device="meta"), 0.2, 1.0, 1, None)


def test_reproduction_reparameterize_meta_logvar():
    with pytest.raises(ValueError, match=r"logvar must be on the same device as mu \(cpu\), got meta"):
        OPS.reparameterize(torch.zeros(4, 3), torch.zeros(4, 3, device="meta"), None, False)


def test_all_meta_calls_still_propagate_shapes():
    x = torch.empty(2, 3, 4, device="meta")
    y = OPS.fused_leaky_relu(x, torch.empty(3, device="meta"), 0.2, 1.0, 1, None)
    assert y.device.type == "meta" and y.shape == x.shape
    gx, gb = OPS.fused_leaky_relu_backward(x, x, None, 0.2, 1.0, 1, None, True)
    assert gx.shape == x.shape and gb.shape == (3,) and gb.device.type == "meta"
    z, kl, st = OPS.reparameterize(x, x, None, True)
    assert z.shape == x.shape and kl.shape == (2, 3)
    assert st.device.type == "cpu" and st.tolist() == [0, 0]  # no uninitialised memory
    # The fake kernels also repeat the shape and dtype checks.
    with pytest.raises(ValueError, match="bias must be a 1-D tensor of length"):
        OPS.fused_leaky_relu(x, torch.empty(4, device="meta"), 0.2, 1.0, 1, None)
    with pytest.raises(TypeError, match="logvar must have the dtype of mu"):
        OPS.reparameterize(x, x.double(), None, False)
