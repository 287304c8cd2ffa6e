"""The ``ctgan`` kind: options, fitting and decoding of the conditional WGAN-GP.

:class:`~aigc_synth.networks.CTGANGenerator` against a PacGAN critic
(:class:`~aigc_synth.networks.CTGANDiscriminator`) with gradient penalty, conditional vectors and
training-by-sampling over every categorical column (:mod:`aigc_synth.conditions`), plus the
generator's cross-entropy on the asked category.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aigc_sdk.training import FitLoop
from aigc_synth.conditions import ConditionSampler
from aigc_synth.networks import BlockLayout, CTGANDiscriminator, CTGANGenerator, finalize, gan_activate
from aigc_synth.transformer import TableTransformer

#: Options of the ctgan kind and their defaults (the options both kinds share are added by the
#: :class:`~aigc_synth.synthesizer.Synthesizer`).
DEFAULTS: dict[str, Any] = {
    "epochs": 300,
    "batch_size": 500,
    "hidden": [256, 256],
    "latent_dim": 128,
    "lr": 2e-4,
    "weight_decay": 1e-6,
    "pac": 10,
    # measured on credit_data: the quantile map beats mode-specific normalisation here too
    "numeric_encoding": "quantile",
}


def check_options(p: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first invalid ctgan-only option of ``p``."""
    if p["batch_size"] % p["pac"]:
        raise ValueError("batch_size must be a multiple of pac")


def categorical_blocks(transformer: TableTransformer) -> list[tuple[str, int, int]]:
    """``(column, start, dim)`` of every categorical column's one-hot block (what is conditioned on)."""
    return [
        (spec["name"], transformer.block_of(spec["name"]).start, len(spec["categories"]))
        for spec in transformer.columns
        if spec["role"] == "categorical"
    ]


def build_generator(p: Mapping[str, Any], cond_dim: int, data_dim: int) -> CTGANGenerator:
    """The (untrained) generator for a ``cond_dim`` conditional vector and ``data_dim`` columns."""
    return CTGANGenerator(p["latent_dim"], cond_dim, p["hidden"], data_dim)


def condition_loss(raw: Tensor, sampler: ConditionSampler, col: Tensor, cat: Tensor) -> Tensor:
    """Cross-entropy between the generator's logits for the conditioned column and the ask."""
    total = raw.new_zeros(())
    for j, (start, dim) in enumerate(zip(sampler.starts, sampler.dims)):
        sel = col == j
        if sel.any():
            ce = torch.nn.functional.cross_entropy(raw[sel, start : start + dim], cat[sel], reduction="sum")
            total = total + ce
    return total / len(raw)


def fit(
    x: Tensor,
    layout: BlockLayout,
    blocks: list[tuple[str, int, int]],
    p: Mapping[str, Any],
    *,
    seed: int,
    loop_options: Mapping[str, Any],
    verbose: bool = False,
) -> tuple[CTGANGenerator, ConditionSampler, dict[str, float]]:
    """Train generator and critic on encoded rows ``x`` (options ``p``), conditioning on ``blocks``.

    Every step (one critic and one generator update) ends in the
    :class:`~aigc_sdk.training.FitLoop` (``loop_options``: its keyword arguments but ``model`` and
    ``total``; hooks get both networks as a ``ModuleDict``) with its ``loss_d``, ``penalty`` and
    ``loss_g``. Returns the generator (in eval mode), the condition sampler and the last step's
    losses.
    """
    sampler = ConditionSampler(x.numpy(), blocks)
    gen = build_generator(p, sampler.cond_dim, x.shape[1])
    disc = CTGANDiscriminator(x.shape[1] + sampler.cond_dim, p["hidden"], p["pac"])
    opt_g = torch.optim.Adam(gen.parameters(), lr=p["lr"], betas=(0.5, 0.9), weight_decay=p["weight_decay"])
    opt_d = torch.optim.Adam(disc.parameters(), lr=p["lr"], betas=(0.5, 0.9), weight_decay=p["weight_decay"])
    rng = np.random.default_rng(seed)
    bs = p["batch_size"]
    steps = max(1, len(x) // bs)
    last: dict[str, float] = {}
    pair = torch.nn.ModuleDict({"generator": gen, "discriminator": disc})
    with FitLoop(model=pair, total=p["epochs"] * steps, **loop_options) as loop:
        for epoch in range(p["epochs"]):
            for _ in range(steps):
                cond, col, cat, rows = sampler.sample_train(bs, rng)
                real = torch.cat([x[torch.from_numpy(rows)], cond], dim=1)
                fake = gan_activate(gen(torch.randn(bs, p["latent_dim"]), cond), layout)
                fake = torch.cat([fake, cond], dim=1)
                loss_d = disc(fake.detach()).mean() - disc(real).mean()
                pen = disc.gradient_penalty(real, fake.detach())
                opt_d.zero_grad(set_to_none=True)
                (loss_d + pen).backward()
                opt_d.step()

                cond, col, cat, _ = sampler.sample_train(bs, rng)
                raw = gen(torch.randn(bs, p["latent_dim"]), cond)
                score = disc(torch.cat([gan_activate(raw, layout), cond], dim=1)).mean()
                loss_g = -score + condition_loss(raw, sampler, col, cat)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                last = {"loss_d": loss_d.item(), "penalty": pen.item(), "loss_g": loss_g.item()}
                loop.end_step(last)
                if loop.should_stop:
                    break
            if verbose and (epoch + 1) % 50 == 0:
                print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in last.items()))
            if loop.should_stop:
                break
    gen.eval()
    return gen, sampler, last


@torch.no_grad()
def generate(
    gen: CTGANGenerator,
    sampler: ConditionSampler,
    transformer: TableTransformer,
    m: int,
    wanted: Mapping[str, int],
    generator: torch.Generator,
) -> Tensor:
    """``m`` encoded rows, the generator steered to the first wanted column it was conditioned on
    (else conditional vectors drawn with the training frequencies)."""
    steer = next((col for col in wanted if col in sampler.columns), None)
    c = sampler.sample_original(m, generator) if steer is None else sampler.fixed(m, steer, wanted[steer])
    z = torch.randn(m, gen.noise_dim, generator=generator)
    layout = BlockLayout(transformer.blocks)
    return finalize(gen(z, c), layout, noise_scale=None, generator=generator)
