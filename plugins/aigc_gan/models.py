"""GAN models: generator + discriminator + EMA generator, trained one step at a time.

Built from keyword config only (``get_config()`` rebuilds them), so a saved model is just
``config.json`` + ``model.safetensors``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_gan import losses
from aigc_gan.augment import diff_augment, parse_policy
from aigc_sdk.interfaces import GenerativeModel, ScoringDiscriminator
from aigc_sdk.nn import build_component, choose_arch
from aigc_sdk.specs import check_sample_count, resolve_data_spec
from aigc_sdk.training.distributed import backward
from aigc_sdk.validation import check_number


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


def _world_size() -> int:
    """Data-parallel ranks (the EMA half-life counts images over all of them)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> None:
    check_number(name, value, minimum=0, exclusive=not allow_zero)


#: Values a config saved before the current recipe existed implies for keys it does not record.
#: Such configs are recognised by ``ema_start``, which only they record.
_LEGACY_DEFAULTS: dict[str, Any] = {
    "spectral_norm": False,
    "augment": "",
    "loss": "ns",
    "hidden": 256,
    "output_conv": True,
}
#: The current recipe's defaults for the same keys (``hidden``: conv D reads its conv features
#: directly; MLPs use 256 units).
_RECIPE_DEFAULTS: dict[str, Any] = {
    "spectral_norm": True,
    # DiffAugment is off: on MNIST-5k it made the conditional G ignore z (recall 0.55 -> 0.01).
    "augment": "",
    "loss": "hinge",
    "hidden": None,
    "output_conv": False,
}


#: (gamma, every) of the default lazy R1 penalty; configs saved before it record their own values.
_R1_DEFAULT = (0.1, 16)


def _ema_beta(batch: int, images_seen: int, ema_kimg: float, ema_rampup: float | None) -> float:
    """EMA decay for one step of ``batch`` images: half-life ``ema_kimg`` thousand images, ramped up
    as ``min(ema_kimg * 1000, images_seen * ema_rampup)`` so early steps do not average in the
    random initial weights (Karras et al. 2020)."""
    half_life = ema_kimg * 1000.0
    if ema_rampup is not None:
        half_life = min(half_life, images_seen * ema_rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


class GAN(GenerativeModel):
    """Generative adversarial network with an exponential-moving-average generator.

    The defaults are the recipe measured best on MNIST-5k and checked once on Fashion-MNIST
    (docs/models.md has the ablation): DCGAN-style conv networks, spectral normalisation in D, hinge loss, a
    projection discriminator for labels, no auxiliary classifier, and an EMA generator with a
    half-life in images and a ramp-up. Differentiable augmentation is available (``augment``).

    Args:
        data_shape: ``(C, H, W)`` for square images in [0, 1] (any size in
            ``aigc_sdk.nn.SUPPORTED_IMAGE_SIZES``) or ``(D,)``.
        num_classes: number of classes for a class-conditional GAN, else ``None``.
        dataset: optional registered data set name that fills ``data_shape`` (and ``num_classes``
            for the conditional models; ``gan``/``vae`` ignore its labels unless ``num_classes`` is given).
        arch: ``"auto"`` (conv for images, MLP for vectors), ``"conv"``, ``"resnet"`` or ``"mlp"``:
            the first-party networks used when ``generator`` / ``discriminator`` are not given,
            built from ``channels``, ``hidden``, ``embed_dim``, ``batch_norm``, ``output_conv``,
            ``d_dropout`` and ``spectral_norm``.
        generator: a registered generator name, or ``{"name": ..., **its config}`` (see
            ``aigc_sdk.list_networks("generator")``); replaces the ``arch`` generator.
        discriminator: likewise for the discriminator. With ``aux_weight > 0`` it is built with
            ``aux_classifier=True`` and must implement ``scores`` (``ScoringDiscriminator``).
        loss: ``"hinge"`` (default), ``"ns"`` (non-saturating), ``"wgan-gp"`` (with ``gp_weight``)
            or ``"lsgan"`` (least squares).
        spectral_norm: spectrally normalise every discriminator layer.
        augment: differentiable augmentation policy applied to real and fake images alike, a
            comma-separated subset of ``color``, ``translation``, ``cutout`` (``""`` disables).
        augment_p: probability that an image is augmented (per image, per step).
        r1_gamma: weight of the R1 penalty on real data (0 disables it); lazy: applied every
            ``r1_every`` steps and scaled by ``r1_every``. Default 0.1 every 16 steps (0 with
            ``loss="wgan-gp"``, which has its own gradient penalty).
        aux_weight: weight of an auxiliary class-prediction loss (conditional only; 0 disables:
            it favours one easy-to-classify sample per class, i.e. mode collapse).
        ema_kimg: half-life of the EMA generator in thousands of images.
        ema_rampup: ramp-up ratio (the half-life never exceeds ``images seen * ema_rampup``);
            ``None`` disables the ramp-up.
        ema_beta: a constant per-step EMA decay instead of ``ema_kimg``/``ema_rampup``.
    """

    family = "gan"
    #: Whether the labels of a ``dataset`` make the model conditional (``cgan``) or are ignored.
    conditional: ClassVar[bool] = False

    def __init__(
        self,
        *,
        data_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        dataset: str | None = None,
        latent_dim: int = 64,
        arch: str = "auto",
        generator: str | Mapping[str, Any] | None = None,
        discriminator: str | Mapping[str, Any] | None = None,
        channels: int = 32,
        hidden: int | None = None,
        embed_dim: int = 32,
        batch_norm: bool = True,
        output_conv: bool | None = None,
        d_dropout: float = 0.0,
        loss: str | None = None,
        spectral_norm: bool | None = None,
        augment: str | None = None,
        augment_p: float = 1.0,
        r1_gamma: float | None = None,
        r1_every: int | None = None,
        gp_weight: float = 10.0,
        n_critic: int = 1,
        aux_weight: float = 0.0,
        lr_g: float = 4e-4,
        lr_d: float = 1.6e-3,
        betas: Sequence[float] = (0.5, 0.999),
        ema_kimg: float = 10.0,
        ema_rampup: float | None = 0.05,
        ema_beta: float | None = None,
        ema_start: int | None = None,
    ) -> None:
        super().__init__()
        # A data set's labels make the model conditional only when asked (cgan, or num_classes).
        asked = num_classes is not None or self.conditional
        shape, labels = resolve_data_spec(data_shape, num_classes, dataset)
        num_classes = labels if asked else None
        legacy = ema_start is not None
        defaults = _LEGACY_DEFAULTS if legacy else _RECIPE_DEFAULTS
        loss = defaults["loss"] if loss is None else loss
        spectral_norm = defaults["spectral_norm"] if spectral_norm is None else spectral_norm
        augment = defaults["augment"] if augment is None else augment
        output_conv = defaults["output_conv"] if output_conv is None else output_conv
        if r1_gamma is None:  # measured: lazy R1 lowered FID and raised recall and coverage
            r1_gamma = 0.0 if legacy or loss == "wgan-gp" else _R1_DEFAULT[0]
        if r1_every is None:
            r1_every = 1 if legacy else _R1_DEFAULT[1]
        self.arch = choose_arch(arch, shape)
        if hidden is None:
            hidden = defaults["hidden"] or (0 if self.arch != "mlp" else 256)
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < (self.arch == "mlp"):
            raise ValueError(
                f"hidden must be an int >= {int(self.arch == 'mlp')} for arch={self.arch!r} "
                f"(0: no hidden layer in the conv discriminator), got {hidden!r}"
            )
        for name, flag in (("spectral_norm", spectral_norm), ("output_conv", output_conv)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        for name, value in (
            ("latent_dim", latent_dim),
            ("channels", channels),
            ("embed_dim", embed_dim),
            ("r1_every", r1_every),
            ("n_critic", n_critic),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name, value in (("lr_g", lr_g), ("lr_d", lr_d), ("ema_kimg", ema_kimg)):
            _positive(name, value)
        for name, value in (("r1_gamma", r1_gamma), ("gp_weight", gp_weight), ("aux_weight", aux_weight)):
            _positive(name, value, allow_zero=True)
        if ema_rampup is not None:
            _positive("ema_rampup", ema_rampup)
        if (
            isinstance(d_dropout, bool)
            or not isinstance(d_dropout, (int, float))
            or not 0.0 <= d_dropout < 1.0
        ):
            raise ValueError(f"d_dropout must be in [0, 1), got {d_dropout!r}")
        if isinstance(augment_p, bool) or not isinstance(augment_p, (int, float)) or not 0 <= augment_p <= 1:
            raise ValueError(f"augment_p must be a probability in [0, 1], got {augment_p!r}")
        if ema_beta is not None and not (isinstance(ema_beta, (int, float)) and 0.0 <= ema_beta < 1.0):
            raise ValueError(f"ema_beta must be in [0, 1) or None, got {ema_beta!r}")
        if len(tuple(betas)) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        if aux_weight and num_classes is None:
            raise ValueError("aux_weight > 0 needs a class-conditional model (num_classes)")
        self.loss = losses.check_loss(loss)
        self.augment_policy = parse_policy(augment)
        self.data_shape, self.num_classes = shape, num_classes
        self._config: dict[str, Any] = {
            "data_shape": list(shape),
            "num_classes": num_classes,
            "latent_dim": latent_dim,
            "arch": self.arch,
            "channels": channels,
            "hidden": hidden,
            "embed_dim": embed_dim,
            "batch_norm": batch_norm,
            "output_conv": output_conv,
            "d_dropout": float(d_dropout),
            "loss": self.loss,
            "spectral_norm": spectral_norm,
            "augment": ",".join(self.augment_policy),
            "augment_p": float(augment_p),
            "r1_gamma": float(r1_gamma),
            "r1_every": r1_every,
            "gp_weight": float(gp_weight),
            "n_critic": n_critic,
            "aux_weight": float(aux_weight),
            "lr_g": float(lr_g),
            "lr_d": float(lr_d),
            "betas": [float(b) for b in betas],
            "ema_kimg": float(ema_kimg),
            "ema_rampup": None if ema_rampup is None else float(ema_rampup),
            "ema_beta": None if ema_beta is None else float(ema_beta),
        }
        if legacy:
            self._config["ema_start"] = int(ema_start)  # type: ignore[arg-type]
        # Networks: registered components by name. Without an explicit spec, the ``arch``
        # network is built from the model-level options above (channels, hidden, ...).
        g_defaults: dict[str, Any] = {"embed_dim": embed_dim}
        d_defaults: dict[str, Any] = {"dropout": float(d_dropout), "spectral_norm": spectral_norm}
        if self.arch == "mlp":
            g_defaults["hidden"] = d_defaults["hidden"] = hidden
        else:
            g_defaults.update(channels=channels, batch_norm=batch_norm)
            d_defaults["channels"] = channels
            if self.arch == "conv":
                g_defaults["output_conv"] = output_conv
                d_defaults["hidden"] = hidden
        common = {
            "data_shape": shape,
            "num_classes": num_classes,
            "latent_dim": latent_dim,
            "model": self.family,
        }
        self.generator: nn.Module
        self.generator, self._config["generator"] = build_component(
            "generator",
            generator if generator is not None else {"name": self.arch, **g_defaults},
            default=self.arch,
            **common,  # type: ignore[arg-type]
        )
        self.discriminator: nn.Module
        self.discriminator, self._config["discriminator"] = build_component(
            "discriminator",
            discriminator if discriminator is not None else {"name": self.arch, **d_defaults},
            default=self.arch,
            extra={"aux_classifier": True} if aux_weight > 0 else None,
            **common,  # type: ignore[arg-type]
        )
        if aux_weight > 0 and not isinstance(self.discriminator, ScoringDiscriminator):
            raise ValueError(
                f"aux_weight > 0 needs a discriminator with scores(x, condition) -> (logits, class_logits); "
                f"{self._config['discriminator']['name']!r} has none"
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

    def augment(self, x: Tensor) -> Tensor:
        """The differentiable augmentation D's inputs go through (identity when disabled)."""
        p = self._config["augment_p"]
        if not self.augment_policy or p <= 0:
            return x
        out = diff_augment(x, self.augment_policy)
        if p >= 1:
            return out
        keep = torch.rand(x.shape[0], *([1] * (x.ndim - 1)), device=x.device) >= p
        return torch.where(keep, x, out)

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

        # --- discriminator (it sees real and fake through the same augmentation). On steps that
        # also update G, one batch of fakes serves both updates (as in the DCGAN reference
        # implementation): D trains on it detached, then G is scored on it by the updated D.
        g_step = (step + 1) % cfg["n_critic"] == 0
        z = torch.randn(n, cfg["latent_dim"], device=device)
        with torch.set_grad_enabled(g_step):
            fake_g = self.generator(z, y)
        fake = fake_g.detach()
        use_r1 = cfg["r1_gamma"] > 0 and step % cfg["r1_every"] == 0
        real_in = x.detach().requires_grad_(use_r1)
        real_logits, real_cls = self._scores(self.augment(real_in), y)
        fake_logits, _ = self._scores(self.augment(fake), y)
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
        backward(optimizers["d"], d_loss)
        optimizers["d"].step()
        metrics["d_loss"] = d_loss.item()
        metrics["d_real"] = real_logits.mean().item()
        metrics["d_fake"] = fake_logits.mean().item()

        # --- generator
        if g_step:
            fake_logits, fake_cls = self._scores(self.augment(fake_g), y)
            g_loss = losses.generator_loss(self.loss, fake_logits)
            if fake_cls is not None and y is not None:
                g_loss = g_loss + cfg["aux_weight"] * F.cross_entropy(fake_cls, y)
            optimizers["g"].zero_grad(set_to_none=True)
            backward(optimizers["g"], g_loss)
            optimizers["g"].step()
            # D's grads from the G pass are stale; drop them so nothing reads them.
            optimizers["d"].zero_grad(set_to_none=True)
            self.update_ema(step, n * _world_size())
            metrics["g_loss"] = g_loss.item()
        return metrics

    def _scores(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """D's logits, plus class logits when the auxiliary loss is on (the only time they are needed)."""
        if self._config["aux_weight"] > 0:
            return self.discriminator.scores(x, y)  # type: ignore[no-any-return,operator]
        return self.discriminator(x, y), None

    def ema_decay(self, step: int, batch: int) -> float:
        """The EMA decay applied after ``step`` (0-based) with a global batch of ``batch`` images."""
        cfg = self._config
        if cfg["ema_beta"] is not None:  # constant decay (configs saved before the ramp-up existed)
            return float(cfg["ema_beta"]) if step >= cfg.get("ema_start", 0) else 0.0
        return _ema_beta(batch, (step + 1) * batch, cfg["ema_kimg"], cfg["ema_rampup"])

    @torch.no_grad()
    def update_ema(self, step: int, batch: int = 64) -> None:
        """Move the EMA generator towards the generator by :meth:`ema_decay`."""
        beta = self.ema_decay(step, batch)
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
    """Class-conditional GAN: ``num_classes`` defaults to 10; labels enter G through an embedding
    and D through a projection head (an auxiliary classifier, ``aux_weight``, is available but off)."""

    conditional = True

    def __init__(self, *, num_classes: int | None = None, dataset: str | None = None, **config: Any) -> None:
        if num_classes is None and dataset is None:
            num_classes = 10
        super().__init__(num_classes=num_classes, dataset=dataset, **config)
        if self.num_classes is None:
            raise ValueError("ConditionalGAN needs num_classes (or a labelled dataset)")
