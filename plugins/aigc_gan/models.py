"""GAN models: generator + discriminator + EMA generator, trained one step at a time.

Built from keyword config only (``get_config()`` rebuilds them), so a saved model is just
``config.json`` + ``model.safetensors``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_gan import losses
from aigc_gan.networks import (
    ConvDiscriminator,
    ConvGenerator,
    MLPDiscriminator,
    MLPGenerator,
    pick_arch,
)
from aigc_sdk.interfaces import GenerativeModel
from aigc_sdk.specs import check_sample_count, resolve_data_spec


def default_condition(n: int, num_classes: int | None, condition: Tensor | None) -> Tensor | None:
    """Labels to sample with: the given ones, or ``0, 1, ..., K-1, 0, 1, ...`` for a conditional model."""
    check_sample_count(n)
    if condition is not None:
        if num_classes is None:
            raise ValueError("condition was given but this model is not class-conditional")
        condition = torch.as_tensor(condition).long()
        if condition.shape != (n,):
            raise ValueError(f"condition must have shape ({n},), got {tuple(condition.shape)}")
        if condition.numel() and (condition.min() < 0 or condition.max() >= num_classes):
            raise ValueError(
                f"condition labels must be in [0, {num_classes}), got {condition.tolist()[:8]}..."
            )
        return condition
    if num_classes is None:
        return None
    return torch.arange(n) % num_classes


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        raise ValueError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}"
        )


class GAN(GenerativeModel):
    """Generative adversarial network with an exponential-moving-average generator.

    Args:
        data_shape: ``(C, H, W)`` for images in [0, 1] (conv nets for 8, 28 or 32 px) or ``(D,)``.
        num_classes: number of classes for a class-conditional GAN, else ``None``.
        dataset: optional registered data set name that fills ``data_shape``/``num_classes``.
        arch: ``"auto"``, ``"conv"`` or ``"mlp"``.
        loss: ``"ns"`` (non-saturating, default), ``"hinge"`` or ``"wgan-gp"``.
        r1_gamma: weight of the R1 penalty on real data (0 disables it); applied every ``r1_every`` steps.
        aux_weight: weight of an auxiliary class-prediction loss (conditional only; 0 disables).
        ema_beta: decay of the EMA generator used for sampling.
    """

    family = "gan"

    def __init__(
        self,
        *,
        data_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        dataset: str | None = None,
        latent_dim: int = 64,
        arch: str = "auto",
        channels: int = 64,
        hidden: int = 256,
        embed_dim: int = 32,
        batch_norm: bool = True,
        d_dropout: float = 0.0,
        loss: str = "ns",
        r1_gamma: float = 0.0,
        r1_every: int = 1,
        gp_weight: float = 10.0,
        n_critic: int = 1,
        aux_weight: float = 0.0,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        ema_beta: float = 0.999,
        ema_start: int = 0,
    ) -> None:
        super().__init__()
        shape, num_classes = resolve_data_spec(data_shape, num_classes, dataset)
        for name, value in (
            ("latent_dim", latent_dim),
            ("channels", channels),
            ("hidden", hidden),
            ("embed_dim", embed_dim),
            ("r1_every", r1_every),
            ("n_critic", n_critic),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name, value in (("lr_g", lr_g), ("lr_d", lr_d)):
            _positive(name, value)
        for name, value in (("r1_gamma", r1_gamma), ("gp_weight", gp_weight), ("aux_weight", aux_weight)):
            _positive(name, value, allow_zero=True)
        if (
            isinstance(d_dropout, bool)
            or not isinstance(d_dropout, (int, float))
            or not 0.0 <= d_dropout < 1.0
        ):
            raise ValueError(f"d_dropout must be in [0, 1), got {d_dropout!r}")
        if not 0.0 <= ema_beta < 1.0:
            raise ValueError(f"ema_beta must be in [0, 1), got {ema_beta!r}")
        if aux_weight and num_classes is None:
            raise ValueError("aux_weight > 0 needs a class-conditional model (num_classes)")
        self.loss = losses.check_loss(loss)
        self.data_shape, self.num_classes = shape, num_classes
        self.arch = pick_arch(arch, shape)
        self._config: dict[str, Any] = {
            "data_shape": list(shape),
            "num_classes": num_classes,
            "latent_dim": latent_dim,
            "arch": self.arch,
            "channels": channels,
            "hidden": hidden,
            "embed_dim": embed_dim,
            "batch_norm": batch_norm,
            "d_dropout": float(d_dropout),
            "loss": loss,
            "r1_gamma": float(r1_gamma),
            "r1_every": r1_every,
            "gp_weight": float(gp_weight),
            "n_critic": n_critic,
            "aux_weight": float(aux_weight),
            "lr_g": float(lr_g),
            "lr_d": float(lr_d),
            "betas": [float(b) for b in betas],
            "ema_beta": float(ema_beta),
            "ema_start": int(ema_start),
        }
        if self.arch == "conv":
            self.generator: nn.Module = ConvGenerator(
                shape,
                latent_dim,
                channels,
                num_classes,
                embed_dim,
                batch_norm,  # type: ignore[arg-type]
            )
            self.discriminator: nn.Module = ConvDiscriminator(
                shape,
                channels,
                num_classes,
                hidden,
                aux_weight > 0,
                d_dropout,  # type: ignore[arg-type]
            )
        else:
            self.generator = MLPGenerator(shape, latent_dim, hidden, num_classes, embed_dim)
            self.discriminator = MLPDiscriminator(
                shape, hidden, num_classes, aux_classifier=aux_weight > 0, dropout=d_dropout
            )
        # The EMA copy is part of the state dict (it is what sampling uses) but never trained.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False).eval()

    # ------------------------------------------------------------------ GenerativeModel API
    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model."""
        return dict(self._config)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for the generator (``"g"``) and the discriminator (``"d"``)."""
        cfg = self._config
        betas = (cfg["betas"][0], cfg["betas"][1])
        return {
            "g": torch.optim.Adam(self.generator.parameters(), lr=cfg["lr_g"], betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=cfg["lr_d"], betas=betas),
        }

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        condition: Tensor | None = None,
        batch_size: int = 1024,
    ) -> Tensor:
        """Draw ``n`` samples from the EMA generator (labels cycle 0..K-1 when not given)."""
        cond = default_condition(n, self.num_classes, condition)
        return self.generator_ema.sample(n, generator=generator, condition=cond, batch_size=batch_size)

    def training_step(
        self, batch: tuple[Tensor, ...], optimizers: Mapping[str, torch.optim.Optimizer], step: int
    ) -> dict[str, float]:
        """One discriminator update and (every ``n_critic`` steps) one generator update."""
        cfg = self._config
        x = batch[0]
        y = batch[1].long() if (self.num_classes is not None and len(batch) > 1) else None
        if self.num_classes is not None and y is None:
            raise ValueError("a class-conditional GAN needs (x, y) batches")
        n, device = x.shape[0], x.device
        metrics: dict[str, float] = {}

        # --- discriminator
        with torch.no_grad():
            fake = self.generator(torch.randn(n, cfg["latent_dim"], device=device), y)
        use_r1 = cfg["r1_gamma"] > 0 and step % cfg["r1_every"] == 0
        real_in = x.detach().requires_grad_(use_r1)
        real_logits, real_cls = self.discriminator.scores(real_in, y)
        fake_logits, _ = self.discriminator.scores(fake, y)
        d_loss = losses.discriminator_loss(self.loss, real_logits, fake_logits)
        if use_r1:
            # Lazy regularisation: scale by r1_every so the average strength stays r1_gamma.
            r1 = losses.r1_penalty(real_logits, real_in)
            d_loss = d_loss + cfg["r1_gamma"] / 2 * cfg["r1_every"] * r1
            metrics["r1"] = r1.item()
        if self.loss == "wgan-gp":
            gp = losses.gradient_penalty(lambda t: self.discriminator(t, y), x, fake)
            d_loss = d_loss + cfg["gp_weight"] * gp
            metrics["gp"] = gp.item()
        if real_cls is not None and y is not None:
            d_loss = d_loss + cfg["aux_weight"] * F.cross_entropy(real_cls, y)
        optimizers["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers["d"].step()
        metrics["d_loss"] = d_loss.item()
        metrics["d_real"] = real_logits.mean().item()
        metrics["d_fake"] = fake_logits.mean().item()

        # --- generator
        if (step + 1) % cfg["n_critic"] == 0:
            fake = self.generator(torch.randn(n, cfg["latent_dim"], device=device), y)
            fake_logits, fake_cls = self.discriminator.scores(fake, y)
            g_loss = losses.generator_loss(self.loss, fake_logits)
            if fake_cls is not None and y is not None:
                g_loss = g_loss + cfg["aux_weight"] * F.cross_entropy(fake_cls, y)
            optimizers["g"].zero_grad(set_to_none=True)
            g_loss.backward()
            optimizers["g"].step()
            # D's grads from the G pass are stale; drop them so nothing reads them.
            optimizers["d"].zero_grad(set_to_none=True)
            self.update_ema(step)
            metrics["g_loss"] = g_loss.item()
        return metrics

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """Move the EMA generator towards the generator (copy outright before ``ema_start``)."""
        beta = self._config["ema_beta"] if step >= self._config["ema_start"] else 0.0
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - beta)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)

    def train(self, mode: bool = True) -> GAN:
        """Set train/eval mode; the EMA generator always stays in eval mode."""
        super().train(mode)
        self.generator_ema.eval()
        return self


class ConditionalGAN(GAN):
    """Class-conditional GAN: ``num_classes`` defaults to 10 and an auxiliary classifier helps
    the generator honour its labels (``aux_weight``)."""

    def __init__(self, *, num_classes: int | None = None, dataset: str | None = None, **config: Any) -> None:
        if num_classes is None and dataset is None:
            num_classes = 10
        config.setdefault("aux_weight", 1.0)
        super().__init__(num_classes=num_classes, dataset=dataset, **config)
        if self.num_classes is None:
            raise ValueError("ConditionalGAN needs num_classes (or a labelled dataset)")
