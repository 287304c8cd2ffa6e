"""Differentially-private training of the tabular VAE (DP-SGD, Abadi et al. 2016).

Each step draws a Poisson sample of the rows (every row independently with rate ``q``), computes
one gradient per row (from each linear layer's inputs and output gradients), clips each to L2 norm
``max_grad_norm``, sums them, adds Gaussian noise of standard deviation
``noise_multiplier * max_grad_norm`` and divides by the expected batch size. Opacus' RDP accountant
calibrates the noise multiplier to the target epsilon and reports the epsilon actually spent.

Why not Opacus' ``PrivacyEngine``: its per-sample gradients come from hooks on ``nn.Linear`` layers,
and the VAE also has a free parameter (the per-column noise scale) used outside any layer. The
per-row gradients here cover every parameter exactly, and the accounting is Opacus' own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from aigc_sdk.training import FitLoop
from aigc_synth.networks import BlockLayout, TabularVAE

# RDP orders searched: Opacus' defaults plus larger ones, which few-step, large-epsilon runs need.
ALPHAS = (
    [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [64, 80, 96, 128, 192, 256, 512, 1024, 2048]
)


def _accountant_tools() -> Any:
    try:
        from opacus.accountants import RDPAccountant
        from opacus.accountants.utils import get_noise_multiplier
    except ImportError as exc:  # an optional dependency
        raise ImportError(
            "differentially-private training needs Opacus' privacy accountant: "
            "pip install 'aigc-sdk[dp]' (or pip install opacus)"
        ) from exc
    return RDPAccountant, get_noise_multiplier


def clipped_gradient_sum(
    net: TabularVAE,
    x: Tensor,
    c: Tensor,
    eps: Tensor,
    layout: BlockLayout,
    beta: float,
    max_grad_norm: float,
) -> dict[str, Tensor]:
    """Sum over rows of each row's loss gradient, clipped to L2 norm ``max_grad_norm``; keyed by
    parameter name.

    One forward and one backward pass for the whole batch, no per-row copies of the weights: a
    linear layer's per-row weight gradient is the outer product ``g_i a_i^T`` of its output
    gradient and input, whose norm is ``|g_i| |a_i|``, and the clipped sum is ``(f * G)^T A`` with
    per-row factors ``f``. The free noise-scale parameter gets one copy per row. The norm is taken
    over all parameters together, as DP-SGD's sensitivity bound requires.
    """
    linears = {name: m for name, m in net.named_modules() if isinstance(m, nn.Linear)}
    inputs: dict[str, Tensor] = {}
    outputs: dict[str, Tensor] = {}

    def capture(name: str) -> Any:
        def hook(_: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
            if name in inputs:
                raise RuntimeError(f"layer {name} ran twice in one loss: per-row gradients assume once")
            inputs[name], outputs[name] = args[0].detach(), out

        return hook

    handles = [m.register_forward_hook(capture(name)) for name, m in linears.items()]
    try:
        rows_ls = net.log_sigma.detach().expand(len(x), -1).clone().requires_grad_(True)
        loss = net.loss(x, c, layout, beta, eps=eps, log_sigma=rows_ls)[0] * len(x)  # sum over rows
    finally:
        for h in handles:
            h.remove()
    names = list(outputs)
    grads = torch.autograd.grad(loss, [outputs[k] for k in names] + [rows_ls])
    g_out, g_ls = dict(zip(names, grads[:-1])), grads[-1]
    sq = g_ls.pow(2).sum(1)
    for k in names:
        gsq = g_out[k].pow(2).sum(1)
        sq = sq + gsq * inputs[k].pow(2).sum(1)
        if linears[k].bias is not None:
            sq = sq + gsq
    factor = (max_grad_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    result = {"log_sigma": factor @ g_ls}
    for k in names:
        fg = g_out[k] * factor[:, None]
        result[f"{k}.weight"] = fg.T @ inputs[k]
        if linears[k].bias is not None:
            result[f"{k}.bias"] = fg.sum(0)
    return result


def fit_vae_private(
    net: TabularVAE,
    x: Tensor,
    c: Tensor,
    layout: BlockLayout,
    *,
    beta: float,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    epsilon: float,
    delta: float,
    max_grad_norm: float,
    seed: int,
    loop_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``net`` on rows ``x`` (conditions ``c``) with (epsilon, delta)-DP-SGD; returns the accounting.

    ``batch_size`` is the expected Poisson sample size (rate ``q = batch_size / rows``) and
    ``epochs * rows / batch_size`` steps are taken. The noise multiplier is the smallest the RDP
    accountant allows for ``epsilon`` at ``delta``; the returned ``epsilon`` is what it reports after
    training (at most the target, within its tolerance).

    The steps run in a :class:`~aigc_sdk.training.FitLoop` (``loop_options``: its keyword arguments
    other than ``model`` and ``total``). Training losses are not private, so the hooks see only
    ``noisy_grad_norm``, the norm of the released noisy gradient (post-processing of the DP
    mechanism: it costs no privacy); a NaN there stops the fit with ``TrainingDivergedError``.
    A callback's stop request ends training early; the accounting then covers the steps taken.
    """
    RDPAccountant, get_noise_multiplier = _accountant_tools()
    n = len(x)
    q = min(1.0, batch_size / n)
    steps = max(1, round(epochs / q))
    try:
        sigma = get_noise_multiplier(
            target_epsilon=epsilon, target_delta=delta, sample_rate=q, steps=steps, alphas=ALPHAS
        )
    except ValueError as exc:  # Opacus: "The privacy budget is too low."
        raise ValueError(
            f"dp_epsilon leaves {epsilon:.4g} for training, too little for {steps} steps at sampling rate "
            f"{q:.3g} and delta {delta:.3g}; raise dp_epsilon or lower epochs ({exc})"
        ) from exc
    gen = torch.Generator().manual_seed(seed)
    params = dict(net.named_parameters())
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    accountant = RDPAccountant()
    expected = q * n
    taken = 0
    with FitLoop(model=net, total=steps, **(loop_options or {})) as loop:
        for _ in range(steps):
            idx = (torch.rand(n, generator=gen) < q).nonzero().squeeze(1)
            if len(idx):
                eps = torch.randn(len(idx), net.latent_dim, generator=gen)
                sums = clipped_gradient_sum(net, x[idx], c[idx], eps, layout, beta, max_grad_norm)
            else:  # an empty sample still releases a noisy (all-noise) gradient
                sums = {k: torch.zeros_like(v) for k, v in params.items()}
            sq = 0.0
            for k, p in params.items():
                noise = torch.randn(p.shape, generator=gen) * (sigma * max_grad_norm)
                p.grad = (sums[k] + noise) / expected
                sq += float(p.grad.pow(2).sum())
            opt.step()
            accountant.step(noise_multiplier=sigma, sample_rate=q)
            taken += 1
            loop.end_step({"noisy_grad_norm": math.sqrt(sq)})
            if loop.should_stop:
                break
    return {
        "epsilon": float(accountant.get_epsilon(delta, alphas=ALPHAS)),
        "delta": float(delta),
        "noise_multiplier": float(sigma),
        "max_grad_norm": float(max_grad_norm),
        "sample_rate": float(q),
        "steps": int(taken),
        "accountant": "rdp (opacus)",
    }


def fit_tvae_private(
    net: TabularVAE,
    x: Tensor,
    c: Tensor,
    layout: BlockLayout,
    p: Mapping[str, Any],
    *,
    epsilon: float,
    seed: int,
    loop_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`fit_vae_private` with the synthesizer's tvae options ``p`` (``dp_delta`` defaulting
    to :func:`default_delta`), spending ``epsilon`` on training; ``net`` ends in eval mode."""
    delta = p["dp_delta"] if p["dp_delta"] is not None else default_delta(len(x))
    accounting = fit_vae_private(
        net,
        x,
        c,
        layout,
        beta=p["beta"],
        epochs=p["epochs"],
        batch_size=min(p["batch_size"], len(x)),
        lr=p["lr"],
        weight_decay=p["weight_decay"],
        epsilon=epsilon,
        delta=delta,
        max_grad_norm=p["dp_max_grad_norm"],
        seed=seed,
        loop_options=loop_options,
    )
    net.eval()
    return accounting


def default_delta(rows: int) -> float:
    """A delta well below ``1 / rows`` (the usual rule): ``min(1e-5, 0.1 / rows)``."""
    return min(1e-5, 0.1 / max(rows, 1))


def check_dp_options(epsilon: Any, delta: Any, max_grad_norm: Any, schema_share: Any) -> None:
    """Raise ValueError naming the first invalid differential-privacy option."""
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"dp_epsilon must be a finite number > 0, got {epsilon!r}")
    if delta is not None and not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ValueError(f"dp_delta must be in (0, 1) or None, got {delta!r}")
    if not (isinstance(max_grad_norm, (int, float)) and max_grad_norm > 0):
        raise ValueError(f"dp_max_grad_norm must be > 0, got {max_grad_norm!r}")
    if not (isinstance(schema_share, (int, float)) and 0 < schema_share < 1):
        raise ValueError(f"dp_schema_share must be in (0, 1), got {schema_share!r}")
