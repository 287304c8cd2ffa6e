"""Deterministic autoencoders (plain and denoising) with latent interpolation.

An autoencoder has no prior, so :meth:`AutoEncoder.sample` draws codes from a diagonal
Gaussian fitted to the training codes (running moments kept as buffers, so they are saved).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aigc_sdk.interfaces import GenerativeModel
from aigc_sdk.nn import build_encoder_decoder, choose_arch
from aigc_sdk.specs import check_sample_count, resolve_data_spec
from aigc_sdk.training.distributed import backward


def _upgrade_legacy_keys(state_dict: dict[str, Tensor], prefix: str) -> None:
    """Rename the weights of autoencoders saved before encoders/decoders were shared components.

    Their encoder was one ``net`` sequence (conv: convs, flatten, hidden, output; MLP: flatten,
    hidden layers, output) and their MLP decoder was called ``fc``; the shapes are unchanged.
    """
    enc, dec = prefix + "encoder.", prefix + "decoder."
    keys = list(state_dict)
    if any(k.startswith(enc + "net.5.") for k in keys) and not any(k.startswith(enc + "out.") for k in keys):
        conv = any(k.startswith(enc + "net.7.") for k in keys)
        mapping = (
            {"0": "conv.0", "1": "conv.1", "2": "conv.2", "3": "conv.3", "5": "fc.0", "6": "fc.1", "7": "out"}
            if conv
            else {"1": "net.0", "2": "net.1", "3": "net.2", "4": "net.3", "5": "out"}
        )
        for k in keys:
            if k.startswith(enc + "net."):
                idx, _, rest = k[len(enc + "net.") :].partition(".")
                state_dict[f"{enc}{mapping[idx]}.{rest}"] = state_dict.pop(k)
    for k in keys:
        if k.startswith(dec + "fc.") and not any(x.startswith(dec + "deconv.") for x in keys):
            state_dict[dec + "net." + k[len(dec + "fc.") :]] = state_dict.pop(k)


class AutoEncoder(GenerativeModel):
    """Autoencoder; ``noise_std > 0`` makes it denoising (reconstruct clean x from noisy x).

    Args:
        data_shape: ``(C, H, W)`` images in [0, 1] (BCE loss) or ``(D,)`` vectors (MSE loss).
        dataset: optional registered data set name that fills ``data_shape``.
        latent_dim: size of the code.
        arch: ``"auto"`` (conv for images, MLP for vectors), ``"conv"``, ``"resnet"`` or ``"mlp"``:
            the first-party networks used when ``encoder`` / ``decoder`` are not given, built
            from ``channels`` and ``hidden``.
        encoder: a registered encoder name or ``{"name": ..., **its config}`` (see
            ``aigc_sdk.list_networks("encoder")``), asked for ``latent_dim`` outputs.
        decoder: a registered decoder name or ``{"name": ..., **its config}``.
        noise_std: standard deviation of the Gaussian input corruption (0 = plain AE).
    """

    family = "ae"

    def __init__(
        self,
        *,
        data_shape: Sequence[int] | None = None,
        dataset: str | None = None,
        latent_dim: int = 16,
        arch: str = "auto",
        encoder: str | Mapping[str, Any] | None = None,
        decoder: str | Mapping[str, Any] | None = None,
        channels: int = 32,
        hidden: int = 256,
        noise_std: float = 0.0,
        lr: float = 1e-3,
        code_momentum: float = 0.01,
    ) -> None:
        super().__init__()
        shape, _ = resolve_data_spec(data_shape, None, dataset)  # AEs are unconditional
        for name, value in (("latent_dim", latent_dim), ("channels", channels), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(noise_std, bool) or not isinstance(noise_std, (int, float)) or noise_std < 0:
            raise ValueError(f"noise_std must be a non-negative number, got {noise_std!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        arch = choose_arch(arch, shape)
        self.data_shape, self.latent_dim, self.arch = shape, latent_dim, arch
        self.num_classes = None
        self._images = len(shape) == 3
        self._config: dict[str, Any] = {
            "data_shape": list(shape),
            "latent_dim": latent_dim,
            "arch": arch,
            "channels": channels,
            "hidden": hidden,
            "noise_std": float(noise_std),
            "lr": float(lr),
            "code_momentum": float(code_momentum),
        }
        self.encoder: nn.Module
        self.decoder: nn.Module
        self.encoder, self.decoder = build_encoder_decoder(
            self._config, encoder, decoder, shape, None, latent_dim, latent_dim, self.family
        )
        if encoder is None and decoder is None and arch in ("conv", "mlp"):  # the layouts old saves used
            self.register_load_state_dict_pre_hook(
                lambda module, state_dict, prefix, *args: _upgrade_legacy_keys(state_dict, prefix)
            )
        self.register_buffer("code_mean", torch.zeros(latent_dim))
        self.register_buffer("code_var", torch.ones(latent_dim))

    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model."""
        return dict(self._config)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam optimizer over all parameters."""
        return {"ae": torch.optim.Adam(self.parameters(), lr=self._config["lr"])}

    def encode(self, x: Tensor) -> Tensor:
        """Codes ``(N, latent_dim)``."""
        return self.encoder(x)  # type: ignore[no-any-return]

    def decode(self, z: Tensor) -> Tensor:
        """Reconstructions in data space (sigmoid for images)."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self._images else out

    def training_step(
        self, batch: tuple[Tensor, ...], optimizers: Mapping[str, torch.optim.Optimizer], step: int
    ) -> dict[str, float]:
        """One reconstruction step (BCE for images, MSE for vectors), from noisy input if denoising."""
        x = batch[0]
        noise_std = self._config["noise_std"]
        x_in = x + noise_std * torch.randn_like(x) if noise_std > 0 else x
        if noise_std > 0 and self._images:
            x_in = x_in.clamp(0.0, 1.0)
        z = self.encoder(x_in)
        out = self.decoder(z)
        if self._images:
            loss = (
                F.binary_cross_entropy_with_logits(out, x.to(out.dtype), reduction="none")
                .flatten(1)
                .sum(1)
                .mean()
            )
        else:
            loss = F.mse_loss(out, x.to(out.dtype), reduction="none").flatten(1).sum(1).mean()
        opt = optimizers["ae"]
        opt.zero_grad(set_to_none=True)
        backward(opt, loss)
        opt.step()
        with torch.no_grad():  # running moments of the codes, for sampling
            m = self._config["code_momentum"]
            zd = z.detach().float()
            self.code_mean.lerp_(zd.mean(0), m)
            self.code_var.lerp_(zd.var(0, unbiased=False), m)
        return {"loss": loss.item()}

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        condition: Tensor | None = None,
        batch_size: int = 1024,
    ) -> Tensor:
        """Decode ``n`` codes drawn from the Gaussian fitted to the training codes."""
        check_sample_count(n)
        if condition is not None:
            raise ValueError("condition was given but autoencoders are not class-conditional")
        device = self.code_mean.device
        eps = torch.randn(n, self.latent_dim, generator=generator, device=device)
        z = self.code_mean + eps * self.code_var.sqrt()
        return self._decode_batched(z, batch_size)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Encode then decode ``x``."""
        return self._decode_batched(self.encode(x), 1024)

    @torch.no_grad()
    def interpolate(self, x0: Tensor, x1: Tensor, steps: int = 8) -> Tensor:
        """Decode ``steps`` points on the line between the codes of ``x0`` and ``x1``.

        ``x0``/``x1`` are single samples (``data_shape``) or batches ``(N, *data_shape)``;
        the result is ``(steps, *data_shape)`` or ``(steps, N, *data_shape)``.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ValueError(f"steps must be an int >= 2, got {steps!r}")
        single = x0.dim() == len(self.data_shape)
        if x0.shape != x1.shape:
            raise ValueError(
                f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}"
            )
        a, b = (x0[None], x1[None]) if single else (x0, x1)
        was_training = self.training
        self.eval()
        try:
            z0, z1 = self.encode(a), self.encode(b)
            t = torch.linspace(0.0, 1.0, steps, device=z0.device).view(steps, 1, 1)
            z = torch.lerp(z0[None], z1[None], t)  # (steps, N, latent)
            out = self.decode(z.flatten(0, 1)).view(steps, a.shape[0], *self.data_shape)
        finally:
            self.train(was_training)
        return out[:, 0] if single else out

    def _decode_batched(self, z: Tensor, batch_size: int) -> Tensor:
        was_training = self.training
        self.eval()
        try:
            parts = [self.decode(z[i : i + batch_size]) for i in range(0, z.shape[0], batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, *self.data_shape, device=z.device)


class DenoisingAutoEncoder(AutoEncoder):
    """Autoencoder trained to remove Gaussian input noise (``noise_std`` defaults to 0.3)."""

    def __init__(self, *, noise_std: float = 0.3, **config: Any) -> None:
        super().__init__(noise_std=noise_std, **config)
