"""Variational autoencoders: ELBO training with ``beta``, sampling, and the IWAE
log-likelihood estimate.

Built from keyword config only (``get_config()`` rebuilds them), so a saved model is just
``config.json`` + ``model.safetensors``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_sdk.interfaces import GenerativeModel
from aigc_sdk.nn import build_encoder_decoder, choose_arch
from aigc_sdk.ops import reparameterize
from aigc_sdk.specs import check_sample_count, resolve_data_spec
from aigc_sdk.training.distributed import backward

LIKELIHOODS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2 * math.pi)


def _labels(n: int, num_classes: int | None, condition: Tensor | None) -> Tensor | None:
    if condition is not None:
        if num_classes is None:
            raise ValueError("condition was given but this model is not class-conditional")
        condition = torch.as_tensor(condition).long()
        if condition.shape != (n,):
            raise ValueError(f"condition must have shape ({n},), got {tuple(condition.shape)}")
        if condition.numel() and (condition.min() < 0 or condition.max() >= num_classes):
            raise ValueError(f"condition labels must be in [0, {num_classes})")
        return condition
    return None if num_classes is None else torch.arange(n) % num_classes


class VAE(GenerativeModel):
    """Variational autoencoder with a standard-normal prior.

    Args:
        data_shape: ``(C, H, W)`` images in [0, 1] or ``(D,)`` vectors.
        num_classes: number of classes for a conditional VAE, else ``None``.
        dataset: optional registered data set name that fills ``data_shape`` (and ``num_classes``
            for the conditional models; ``gan``/``vae`` ignore its labels unless ``num_classes`` is given).
        latent_dim: size of the latent code.
        arch: ``"auto"`` (conv for images, MLP for vectors), ``"conv"``, ``"resnet"`` or ``"mlp"``:
            the first-party networks used when ``encoder`` / ``decoder`` are not given, built
            from ``channels`` and ``hidden``.
        encoder: a registered encoder name or ``{"name": ..., **its config}`` (see
            ``aigc_sdk.list_networks("encoder")``); it is asked for ``2 * latent_dim`` outputs,
            read as ``(mu, logvar)``.
        decoder: a registered decoder name or ``{"name": ..., **its config}``.
        likelihood: ``"bernoulli"`` (images in [0, 1]) or ``"gaussian"`` (learned global scale).
        beta: weight of the KL term (``beta``-VAE; 1 is the ELBO).
        kl_warmup: steps over which the KL weight ramps linearly from 0 to ``beta`` (0: none), so
            the decoder learns to use ``z`` before the KL term pulls the posterior to the prior.
    """

    family = "vae"
    #: Whether the labels of a ``dataset`` make the model conditional (``cvae``) or are ignored.
    conditional: ClassVar[bool] = False

    def __init__(
        self,
        *,
        data_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        dataset: str | None = None,
        latent_dim: int = 16,
        arch: str = "auto",
        encoder: str | Mapping[str, Any] | None = None,
        decoder: str | Mapping[str, Any] | None = None,
        channels: int = 32,
        hidden: int = 256,
        likelihood: str | None = None,
        beta: float = 1.0,
        kl_warmup: int = 0,
        lr: float = 1e-3,
    ) -> None:
        super().__init__()
        # A data set's labels make the model conditional only when asked (cvae, or num_classes).
        asked = num_classes is not None or self.conditional
        shape, labels = resolve_data_spec(data_shape, num_classes, dataset)
        num_classes = labels if asked else None
        for name, value in (("latent_dim", latent_dim), ("channels", channels), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if likelihood is None:
            likelihood = "bernoulli" if len(shape) == 3 else "gaussian"
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        if isinstance(kl_warmup, bool) or not isinstance(kl_warmup, int) or kl_warmup < 0:
            raise ValueError(f"kl_warmup must be a non-negative int (steps), got {kl_warmup!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.data_shape, self.num_classes, self.latent_dim = shape, num_classes, latent_dim
        self.likelihood, self.beta = likelihood, float(beta)
        self.arch = choose_arch(arch, shape)
        self._config: dict[str, Any] = {
            "data_shape": list(shape),
            "num_classes": num_classes,
            "latent_dim": latent_dim,
            "arch": self.arch,
            "channels": channels,
            "hidden": hidden,
            "likelihood": likelihood,
            "beta": float(beta),
            "kl_warmup": kl_warmup,
            "lr": float(lr),
        }
        self.encoder: nn.Module
        self.decoder: nn.Module
        self.encoder, self.decoder = build_encoder_decoder(
            self._config, encoder, decoder, shape, num_classes, latent_dim, 2 * latent_dim, self.family
        )
        # Gaussian decoders learn one observation scale; images squash their mean into [0, 1].
        self.obs_logstd = nn.Parameter(torch.full((), math.log(0.1))) if likelihood == "gaussian" else None
        self._squash = len(shape) == 3

    # ------------------------------------------------------------------ building blocks
    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model."""
        return dict(self._config)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam optimizer over all parameters."""
        return {"vae": torch.optim.Adam(self.parameters(), lr=self._config["lr"])}

    def _condition(self, batch: tuple[Tensor, ...]) -> Tensor | None:
        if self.num_classes is None:
            return None
        if len(batch) < 2:
            raise ValueError("a class-conditional VAE needs (x, y) batches")
        return batch[1].long()

    def encode(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return the posterior parameters ``(mu, logvar)``."""
        out = self.encoder(x, condition)
        if isinstance(out, tuple):  # an encoder that already splits them
            return out[0], out[1]
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar

    def decode_mean(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Mean of ``p(x | z)``: probabilities (Bernoulli) or the Gaussian mean."""
        out = self.decoder(z, condition)
        return torch.sigmoid(out) if (self.likelihood == "bernoulli" or self._squash) else out

    def log_px_given_z(self, x: Tensor, out: Tensor) -> Tensor:
        """``log p(x | z)`` per sample (summed over dimensions) from decoder outputs ``out``."""
        x = x.to(out.dtype)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)
        mean = torch.sigmoid(out) if self._squash else out
        assert self.obs_logstd is not None
        logstd = self.obs_logstd.to(out.dtype)
        ll = -0.5 * ((x - mean) / logstd.exp()).pow(2) - logstd - 0.5 * _LOG_2PI
        return ll.flatten(1).sum(1)

    # ------------------------------------------------------------------ GenerativeModel API
    def training_step(
        self, batch: tuple[Tensor, ...], optimizers: Mapping[str, torch.optim.Optimizer], step: int
    ) -> dict[str, float]:
        """One ELBO step: ``loss = -log p(x|z) + beta * KL(q(z|x) || N(0, I))`` (batch mean)."""
        x, y = batch[0], self._condition(batch)
        mu, logvar = self.encode(x, y)
        z, kl = reparameterize(mu, logvar, return_kl=True)
        recon = -self.log_px_given_z(x, self.decoder(z, y))
        warmup = self._config["kl_warmup"]
        beta = self.beta * min(1.0, (step + 1) / warmup) if warmup else self.beta
        loss = (recon + beta * kl).mean()
        opt = optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        backward(opt, loss)
        opt.step()
        return {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item()}

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        condition: Tensor | None = None,
        batch_size: int = 1024,
    ) -> Tensor:
        """Decode ``n`` prior draws to their means (labels cycle 0..K-1 when not given)."""
        check_sample_count(n)
        cond = _labels(n, self.num_classes, condition)
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)  # drawn up front
        was_training = self.training
        self.eval()
        try:
            parts = [
                self.decode_mean(
                    z[i : i + batch_size], None if cond is None else cond[i : i + batch_size].to(device)
                )
                for i in range(0, n, batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, *self.data_shape, device=device)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Decode the posterior means of ``x``."""
        mu, _ = self.encode(x, condition)
        return self.decode_mean(mu, condition)

    @torch.no_grad()
    def log_likelihood(
        self,
        x: Tensor,
        condition: Tensor | None = None,
        *,
        k: int = 100,
        generator: torch.Generator | None = None,
        batch_size: int = 64,
    ) -> Tensor:
        """Importance-weighted estimate of ``log p(x)`` per sample (IWAE bound, ``k`` samples).

        ``log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log k`` with
        ``z_k ~ q(z|x)``; the weights are combined in float64 so large ``k`` loses nothing.
        Returns a float64 tensor ``(N,)`` in nats.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if self.num_classes is not None and condition is None:
            raise ValueError("condition (class labels) is required by a class-conditional VAE")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        # All noise is drawn up front so the estimate does not depend on batch_size.
        eps_all = torch.randn(k, x.shape[0], self.latent_dim, generator=generator, device=device)
        out: list[Tensor] = []
        try:
            for i in range(0, x.shape[0], batch_size):
                xb = x[i : i + batch_size].to(device)
                yb = None if condition is None else condition[i : i + batch_size].to(device)
                b = xb.shape[0]
                mu, logvar = self.encode(xb, yb)
                eps = eps_all[:, i : i + b].reshape(k * b, -1)
                # (k * b) rows: k copies of the batch, so decoder calls stay batched.
                mu_k, logvar_k = mu.repeat(k, 1), logvar.repeat(k, 1)
                z = mu_k + eps * (0.5 * logvar_k).exp()
                y_k = None if yb is None else yb.repeat(k)
                log_px = self.log_px_given_z(xb.repeat(k, *([1] * (xb.ndim - 1))), self.decoder(z, y_k))
                eps64, z64, logvar64 = eps.double(), z.double(), logvar_k.double()
                log_pz = (-0.5 * z64.pow(2) - 0.5 * _LOG_2PI).sum(1)
                log_qz = (-0.5 * eps64.pow(2) - 0.5 * logvar64 - 0.5 * _LOG_2PI).sum(1)
                w = (log_px.double() + log_pz - log_qz).view(k, b)
                out.append(torch.logsumexp(w, dim=0) - math.log(k))
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)


class ConditionalVAE(VAE):
    """Class-conditional VAE: labels go to both encoder and decoder; ``num_classes`` defaults to 10."""

    conditional = True

    def __init__(self, *, num_classes: int | None = None, dataset: str | None = None, **config: Any) -> None:
        if num_classes is None and dataset is None:
            num_classes = 10
        super().__init__(num_classes=num_classes, dataset=dataset, **config)
        if self.num_classes is None:
            raise ValueError("ConditionalVAE needs num_classes (or a labelled dataset)")
