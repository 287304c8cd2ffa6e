"""Importance-weighted (IWAE) negative log-likelihood of held-out data under a likelihood model.

The model provides ``log_likelihood(x, condition, *, k=..., generator=...)`` returning the
IWAE bound ``log p(x) >= logsumexp_k log w_k - log k`` per sample (the VAE family does). The
evaluator averages it over the samples it is given and reports

* ``iwae_nll``: ``-mean log p(x)`` in nats per sample,
* ``iwae_nll_sem``: its standard error (``std(ddof=1) / sqrt(N)``),
* ``iwae_bpd``: the same in bits per dimension, ``iwae_nll / (D ln 2)`` with ``D`` the
  number of values in one sample.

The value is the model's own likelihood: a Bernoulli decoder scored on grey levels in
[0, 1] is not a likelihood of discrete data, so compare only models with the same
likelihood on the same data. Lower is better (the bound makes it an upper bound on the NLL).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from aigc_sdk.interfaces import Evaluator
from aigc_sdk.validation import check_int


def likelihood_model_error(metric: str, model: Any) -> str:
    """The message for a metric that needs ``log_likelihood`` asked of a model without one."""
    family = getattr(model, "family", None) or type(model).__name__
    return (
        f"metric {metric!r} needs a likelihood model (VAE family); model family {family!r} has no "
        "log-likelihood (no log_likelihood(x, condition, k=..., generator=...) method)"
    )


def _model_device(model: Any) -> torch.device:
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return torch.device(p.device)
    return torch.device("cpu")


class IWAE(Evaluator):
    """Streaming IWAE NLL: ``update(real=x[, real_labels=y])`` scores ``x`` with ``model``;
    ``update(log_likelihood=ll, dims=D)`` adds precomputed per-sample ``log p(x)`` values.

    Args:
        model: an object with ``log_likelihood(x, condition, *, k, generator, batch_size)``
            returning ``(N,)`` nats (e.g. ``create_model("vae", ...)``); ``None`` when only
            precomputed values are added.
        k: importance samples per data point (100).
        seed: seeds the importance samples (a generator on the model's device).
        batch_size: data points per ``log_likelihood`` batch.

    ``compute()`` returns ``{"iwae_nll", "iwae_nll_sem", "iwae_bpd"}`` (see the module).
    """

    name: ClassVar[str] = "iwae"
    higher_is_better: ClassVar[dict[str, bool]] = {
        "iwae_nll": False,
        "iwae_nll_sem": False,
        "iwae_bpd": False,
    }

    def __init__(self, model: Any = None, *, k: int = 100, seed: int = 0, batch_size: int = 64) -> None:
        if model is not None and not callable(getattr(model, "log_likelihood", None)):
            raise ValueError(likelihood_model_error(self.name, model))
        self.model = model
        self.k = check_int("k", k)
        self.batch_size = check_int("batch_size", batch_size)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated values (the importance-sample stream restarts at ``seed``)."""
        self._values: list[Tensor] = []
        self.dims: int | None = None
        self._generator: torch.Generator | None = None

    def _set_dims(self, dims: int) -> None:
        if self.dims is not None and dims != self.dims:
            raise ValueError(f"samples have {dims} values each, expected {self.dims} (from earlier updates)")
        self.dims = dims

    def update(
        self,
        *,
        real: Any = None,
        fake: Any = None,
        real_labels: Any = None,
        log_likelihood: Any = None,
        dims: int | None = None,
    ) -> None:
        """Score held-out ``real`` data (``real_labels``: class conditions for a conditional
        model), or add precomputed ``log_likelihood`` values (``(N,)`` nats, ``dims`` values
        per sample). ``fake`` is rejected: the likelihood is of real data."""
        if fake is not None:
            raise ValueError("iwae scores real (held-out) data under the model; pass real=..., not fake=...")
        if (real is None) == (log_likelihood is None):
            raise ValueError("update() needs exactly one of real=... or log_likelihood=...")
        if real is not None:
            if self.model is None:
                raise ValueError("update(real=...) needs the evaluator to be built with model=...")
            x = torch.as_tensor(real)
            if x.ndim < 2 or x.shape[0] == 0:
                raise ValueError(f"real must have shape (N, ...) with N > 0, got {tuple(x.shape)}")
            if not torch.isfinite(x).all():
                raise ValueError("real contains NaN or infinite values")
            cond = None
            if real_labels is not None:
                cond = torch.as_tensor(real_labels).long()
                if cond.shape != (x.shape[0],):
                    raise ValueError(f"real_labels must have shape ({x.shape[0]},), got {tuple(cond.shape)}")
            device = _model_device(self.model)
            if self._generator is None:
                self._generator = torch.Generator(device=device).manual_seed(self.seed)
            self._set_dims(int(x[0].numel()))
            with torch.no_grad():
                ll = self.model.log_likelihood(
                    x.float(), cond, k=self.k, generator=self._generator, batch_size=self.batch_size
                )
        else:
            if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
                raise ValueError(f"dims must be a positive int with log_likelihood=..., got {dims!r}")
            self._set_dims(dims)
            ll = log_likelihood
        values = torch.as_tensor(ll).detach().double().cpu().reshape(-1)
        if torch.isnan(values).any() or torch.isposinf(values).any():
            raise ValueError("log-likelihood values contain NaN or +inf")
        self._values.append(values)

    def compute(self) -> dict[str, float]:
        """``{"iwae_nll", "iwae_nll_sem", "iwae_bpd"}`` over every value so far."""
        if not self._values or self.dims is None:
            raise ValueError("iwae needs data; call update(real=...) first")
        ll = torch.cat(self._values)
        nll = float(-ll.mean())
        sem = float(ll.std(unbiased=True) / math.sqrt(ll.numel())) if ll.numel() > 1 else float("nan")
        return {"iwae_nll": nll, "iwae_nll_sem": sem, "iwae_bpd": nll / (self.dims * math.log(2.0))}

    @property
    def count(self) -> int:
        """Number of data points scored so far."""
        return sum(v.numel() for v in self._values)


__all__ = ["IWAE", "likelihood_model_error"]
