"""The ``tvae`` kind: options, fitting and decoding of the tabular VAE.

The network is :class:`~aigc_synth.networks.TabularVAE`. With a ``target`` it is a conditional
VAE keyed on the target's one-hot, so the class balance is exact and a condition on the target
costs nothing. Optionally (``latent_prior="gmm"``) the latent prior is replaced by a Gaussian
mixture fitted to the training posteriors. The differentially-private fit of the same network
lives in :mod:`aigc_synth.privacy`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aigc_sdk.training import FitLoop
from aigc_synth.networks import BlockLayout, TabularVAE, finalize
from aigc_synth.privacy import check_dp_options
from aigc_synth.transformer import TableTransformer

#: Options of the tvae kind and their defaults (the options both kinds share are added by the
#: :class:`~aigc_synth.synthesizer.Synthesizer`).
DEFAULTS: dict[str, Any] = {
    "epochs": 100,
    "batch_size": 500,
    "hidden": [128, 128],
    "latent_dim": 64,
    "lr": 1e-3,
    "weight_decay": 1e-5,
    "beta": 1.0,
    "numeric_encoding": "quantile",
    "latent_prior": "normal",
    "prior_components": 10,
    # differentially-private training (aigc_synth.privacy): off unless dp_epsilon is set
    "dp_epsilon": None,
    "dp_delta": None,
    "dp_max_grad_norm": 1.0,
    "dp_schema_share": 0.1,
}


def check_options(p: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first invalid tvae-only option of ``p``."""
    if p["latent_prior"] not in ("normal", "gmm"):
        raise ValueError(f"latent_prior must be 'normal' or 'gmm', got {p['latent_prior']!r}")
    if p["dp_epsilon"] is not None:
        check_dp_options(p["dp_epsilon"], p["dp_delta"], p["dp_max_grad_norm"], p["dp_schema_share"])
        if p["latent_prior"] != "normal":
            raise ValueError("latent_prior='gmm' fits the data without noise; use 'normal' with dp_epsilon")


def build(data_dim: int, cond_dim: int, p: Mapping[str, Any]) -> TabularVAE:
    """The (untrained) network for ``data_dim`` encoded columns and a ``cond_dim`` condition."""
    return TabularVAE(data_dim, cond_dim, p["hidden"], p["latent_dim"])


def target_condition(x: Tensor, transformer: TableTransformer, target: str | None) -> Tensor:
    """The condition of each encoded row: the target's one-hot (no columns without a target)."""
    if target is None:
        return x.new_zeros(len(x), 0)
    b = transformer.block_of(target)
    return x[:, b.start : b.start + b.dim]


def fit(
    x: Tensor,
    c: Tensor,
    layout: BlockLayout,
    p: Mapping[str, Any],
    *,
    seed: int,
    loop_options: Mapping[str, Any],
    verbose: bool = False,
) -> tuple[TabularVAE, dict[str, Tensor] | None, dict[str, float]]:
    """Train a VAE on encoded rows ``x`` with conditions ``c`` (options ``p``).

    Every optimisation step ends in the :class:`~aigc_sdk.training.FitLoop` (``loop_options``: its
    keyword arguments but ``model`` and ``total``) with that step's ``loss``, ``reconstruction``
    and ``kl``. Returns the network (in eval mode), the fitted latent prior (``None`` unless
    ``latent_prior="gmm"``) and the last epoch's mean losses.
    """
    net = build(x.shape[1], c.shape[1], p)
    opt = torch.optim.Adam(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    n, bs = len(x), min(p["batch_size"], len(x))
    last: dict[str, float] = {}
    prior: dict[str, Tensor] | None = None
    with FitLoop(model=net, total=p["epochs"] * math.ceil(n / bs), **loop_options) as loop:
        for epoch in range(p["epochs"]):
            perm = torch.randperm(n)
            sums = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0}
            done = 0
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                loss, rec, kl = net.loss(x[idx], c[idx], layout, p["beta"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step = {"loss": loss.item(), "reconstruction": rec.item(), "kl": kl.item()}
                sums = {k: sums[k] + step[k] for k in sums}
                done += 1
                loop.end_step(step)
                if loop.should_stop:
                    break
            last = {k: v / done for k, v in sums.items()}  # the epoch's mean losses
            if verbose and (epoch + 1) % 50 == 0:
                print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in last.items()))
            if loop.should_stop:
                break
        net.eval()
        if p["latent_prior"] == "gmm":
            prior = fit_latent_prior(net, x, c, p["prior_components"], seed)
    return net, prior, last


def fit_latent_prior(net: TabularVAE, x: Tensor, c: Tensor, k: int, seed: int) -> dict[str, Tensor]:
    """Fit a full-covariance Gaussian mixture to the posterior means (ex-post density estimation)."""
    from sklearn.mixture import GaussianMixture

    with torch.no_grad():
        mu, _ = net.encode(x, c)
    gm = GaussianMixture(
        n_components=min(k, len(x)), covariance_type="full", random_state=seed, reg_covar=1e-4
    )
    gm.fit(mu.double().numpy())
    return {
        "weights": torch.from_numpy(gm.weights_.astype(np.float64)),
        "means": torch.from_numpy(gm.means_.astype(np.float32)),
        "chol": torch.from_numpy(np.linalg.cholesky(gm.covariances_).astype(np.float32)),
    }


def sample_prior(prior: dict[str, Tensor] | None, m: int, dim: int, generator: torch.Generator) -> Tensor:
    """``m`` latents from ``N(0, I)`` or, when given, from the fitted mixture ``prior``."""
    eps = torch.randn(m, dim, generator=generator)
    if prior is None:
        return eps
    comp = torch.multinomial(prior["weights"], m, replacement=True, generator=generator)
    return prior["means"][comp] + torch.einsum("nij,nj->ni", prior["chol"][comp], eps)


@torch.no_grad()
def generate(
    net: TabularVAE,
    transformer: TableTransformer,
    target: str | None,
    prior: dict[str, Tensor] | None,
    m: int,
    wanted: Mapping[str, int],
    generator: torch.Generator,
) -> Tensor:
    """``m`` encoded rows: the target's class is the wanted one where ``wanted`` names it, else
    drawn with the training frequencies; latents from the prior, then the learnt noise."""
    if target is None:
        c = torch.zeros(m, 0)
    else:
        b = transformer.block_of(target)
        if target in wanted:
            idx = torch.full((m,), wanted[target], dtype=torch.long)
        else:
            freq = torch.tensor(transformer.spec(target)["frequencies"], dtype=torch.float64)
            idx = torch.multinomial(freq, m, replacement=True, generator=generator)
        c = torch.nn.functional.one_hot(idx, b.dim).float()
    z = sample_prior(prior, m, net.latent_dim, generator)
    layout = BlockLayout(transformer.blocks)
    return finalize(net.decode(z, c), layout, noise_scale=net.log_sigma, generator=generator)
