"""The abstract interfaces plugins implement. Keep them small: the core relies only on
what is declared here.

Conventions shared by every implementation:

* Images are float tensors ``(N, C, H, W)`` scaled to ``[0, 1]``; vectors are ``(N, D)``.
* Class conditions are ``LongTensor`` labels of shape ``(N,)``; ``None`` means unconditional.
* Randomness goes through an explicit ``torch.Generator`` when one is passed, so the same
  seed gives bitwise-identical results.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from aigc_sdk.validation import check_int


class Generator(nn.Module, abc.ABC):
    """Maps latent vectors (and optionally class labels) to samples.

    Subclasses set ``latent_dim`` (and ``num_classes`` when class-conditional) and
    implement :meth:`forward`.
    """

    latent_dim: int
    num_classes: int | None = None

    @abc.abstractmethod
    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Decode latents ``z`` of shape ``(N, latent_dim)`` into samples."""

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` standard-normal latents on this module's device."""
        check_int("n", n, minimum=0)
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator, device=device)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        condition: Tensor | None = None,
        batch_size: int = 1024,
    ) -> Tensor:
        """Generate ``n`` samples in batches of ``batch_size`` (in eval mode).

        The latents are drawn up front, so they do not depend on ``batch_size``; the decoded
        samples are bitwise reproducible for the same ``batch_size`` and agree to float
        rounding across batch sizes (kernels may choose another algorithm per batch shape).
        """
        check_int("n", n, minimum=0)
        if condition is not None:
            condition = torch.as_tensor(condition)
            if condition.shape != (n,):
                raise ValueError(f"condition must have shape ({n},), got {tuple(condition.shape)}")
        z = self.sample_latent(n, generator=generator)
        was_training = self.training
        self.eval()
        try:
            parts = [
                self(
                    z[i : i + batch_size],
                    None if condition is None else condition[i : i + batch_size].to(z.device),
                )
                for i in range(0, n, batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else self(z, condition)


class Discriminator(nn.Module, abc.ABC):
    """Scores samples: returns real-vs-fake logits of shape ``(N,)``."""

    num_classes: int | None = None

    @abc.abstractmethod
    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """Return one logit per sample."""


@runtime_checkable
class ScoringDiscriminator(Protocol):
    """Optional discriminator interface: logits *and* class logits in one pass.

    A GAN with an auxiliary classifier loss (``aux_weight > 0``) builds its discriminator with
    ``aux_classifier=True`` and calls :meth:`scores`; every other configuration needs only
    ``forward``. The first-party discriminators implement it.
    """

    def scores(self, x: Tensor, condition: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Real/fake logits ``(N,)`` and class logits ``(N, num_classes)`` (or ``None``)."""
        ...


class Encoder(nn.Module, abc.ABC):
    """Maps samples to latent codes. Variational encoders return ``(mu, logvar)``."""

    latent_dim: int

    @abc.abstractmethod
    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Encode ``x``; return ``z`` or ``(mu, logvar)``."""


class Decoder(nn.Module, abc.ABC):
    """Maps latent codes back to sample space (or to the parameters of a likelihood)."""

    latent_dim: int

    @abc.abstractmethod
    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Decode ``z`` of shape ``(N, latent_dim)``."""


class GenerativeModel(nn.Module, abc.ABC):
    """A complete trainable model (e.g. a GAN = generator + discriminator).

    This is what ``aigc_sdk.create_model(name, **config)`` returns and what the Trainer
    trains. It must be rebuildable from ``get_config()`` alone: ``config.json`` holds the
    config and ``model.safetensors`` the state dict, so nothing is ever unpickled.
    """

    #: The family registered with the model ("gan", "vae", "ae", ...).
    family: ClassVar[str] = "generic"

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """Return the JSON-serialisable keyword arguments that rebuild this model."""

    @abc.abstractmethod
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None
    ) -> Tensor:
        """Generate ``n`` samples; reproducible for the same ``generator`` seed."""

    @abc.abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Create the optimizers, keyed by name (e.g. ``{"g": ..., "d": ...}``)."""

    @abc.abstractmethod
    def training_step(
        self, batch: tuple[Tensor, ...], optimizers: Mapping[str, torch.optim.Optimizer], step: int
    ) -> dict[str, float]:
        """Run one optimisation step (all ``optimizer.step()`` calls included) and return
        scalar metrics as Python floats."""

    def save(self, directory: str) -> None:
        """Write ``config.json`` + ``model.safetensors`` to ``directory`` atomically."""
        from aigc_sdk.io import save_model

        save_model(self, directory)


class Evaluator(abc.ABC):
    """A streaming metric: call :meth:`update` on batches, then :meth:`compute`.

    ``higher_is_better`` maps each key returned by :meth:`compute` to its direction.
    """

    name: ClassVar[str] = "evaluator"
    higher_is_better: ClassVar[Mapping[str, bool]] = {}

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abc.abstractmethod
    def update(self, *, real: Tensor | None = None, fake: Tensor | None = None) -> None:
        """Accumulate a batch of real and/or generated samples (or their features)."""

    @abc.abstractmethod
    def compute(self) -> dict[str, float]:
        """Return the metric values accumulated so far."""


class FeatureExtractor(abc.ABC):
    """Turns samples into feature vectors ``(N, feature_dim)`` for evaluators.

    Metric values are comparable only within one extractor, so reports quote ``name``.
    """

    name: str
    feature_dim: int

    @abc.abstractmethod
    def __call__(self, x: Tensor) -> Tensor:
        """Return features of shape ``(N, feature_dim)``."""


class DatasetProvider(abc.ABC):
    """An offline data set with deterministic splits.

    :meth:`load` returns a map-style ``torch.utils.data.Dataset`` whose items are ``(x,)`` or
    ``(x, y)``: a ``TensorDataset`` for data held in memory, or one that decodes on access (a
    streaming image folder). Images are ``(C, H, W)`` floats in ``[0, 1]``. Code that needs
    stacked tensors uses :func:`split_tensors`.
    """

    name: str
    #: Shape of one sample, e.g. ``(1, 28, 28)`` or ``(15,)``.
    sample_shape: tuple[int, ...]
    #: Number of classes when labelled, else ``None``.
    num_classes: int | None = None

    @abc.abstractmethod
    def load(self, split: str = "train") -> torch.utils.data.Dataset[Any]:
        """Return the ``"train"``, ``"test"`` or ``"all"`` split."""


def split_tensors(data: torch.utils.data.Dataset[Any], indices: Any = None) -> tuple[torch.Tensor, ...]:
    """The fields of a split as stacked tensors, e.g. ``(x, y)``; only the items at ``indices``
    (a sequence or tensor of ints) when given.

    A ``TensorDataset`` gives its own tensors (indexed); any other map-style data set, such as a
    streaming image folder that decodes files on access, has its items decoded and stacked, so
    pass ``indices`` to keep memory to what you use.
    """
    if isinstance(data, torch.utils.data.TensorDataset):
        tensors = tuple(data.tensors)
        return tensors if indices is None else tuple(t[torch.as_tensor(indices)] for t in tensors)
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise ValueError(f"data must be a map-style Dataset (len and indexing), got {type(data).__name__}")
    order = range(len(data)) if indices is None else [int(i) for i in indices]
    items = [data[i] for i in order]
    if not items:
        raise ValueError("the split is empty")
    fields = items[0] if isinstance(items[0], (tuple, list)) else (items[0],)
    return tuple(
        torch.stack([torch.as_tensor(it[f] if isinstance(it, (tuple, list)) else it) for it in items])
        for f in range(len(fields))
    )


class UseCase(abc.ABC):
    """A business workflow built on models and evaluators (fit, then act, then report).

    A use-case that can be kept sets :attr:`artifact_format` and implements :meth:`save` and
    :meth:`load` (``aigc_sdk.io.save_artifact`` / ``load_artifact`` give the atomic
    ``config.json`` + ``model.safetensors`` layout); ``aigc_sdk.load_use_case(directory)`` then
    finds the registered use-case a directory belongs to from its format tag.
    """

    name: ClassVar[str] = "use-case"
    #: ``config.json["format"]`` of this use-case's saves (``aigc_sdk.io.format_tag(kind)``);
    #: None when it has no saved form.
    artifact_format: ClassVar[str | None] = None

    def save(self, directory: Any) -> Any:
        """Write the fitted use-case to ``directory``, replacing an earlier save atomically."""
        raise NotImplementedError(f"{type(self).__name__} has no saved form")

    @classmethod
    def load(cls, directory: Any) -> UseCase:
        """Rebuild a use-case written by :meth:`save`."""
        raise NotImplementedError(f"{cls.__name__} has no saved form")

    @abc.abstractmethod
    def fit(self, data: Any, **options: Any) -> UseCase:
        """Fit on the user's data and return ``self``."""

    @abc.abstractmethod
    def report(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary of the last fit/evaluation."""


__all__ = [
    "DatasetProvider",
    "Decoder",
    "Discriminator",
    "Encoder",
    "Evaluator",
    "FeatureExtractor",
    "GenerativeModel",
    "Generator",
    "ScoringDiscriminator",
    "UseCase",
    "split_tensors",
]
