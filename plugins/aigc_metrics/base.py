"""Shared plumbing for evaluators that work on feature vectors.

An evaluator either receives features directly (``extractor=None``) or samples that it
turns into features with a :class:`~aigc_sdk.interfaces.FeatureExtractor` (a registered
name such as ``"classifier"``, ``"random-conv"``, ``"raw"``, or any callable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from aigc_metrics._checks import as_matrix
from aigc_sdk.interfaces import Evaluator, FeatureExtractor

ExtractorLike = str | FeatureExtractor | Callable[[Tensor], Tensor] | None

#: Extractors that need to know the data set they were built for.
_DATASET_EXTRACTORS = {"classifier", "random-conv", "raw"}


def resolve_extractor(extractor: ExtractorLike, dataset: str | None = None, **options: Any) -> Any:
    """Turn a registered name into a feature extractor; pass objects/callables through.

    ``dataset`` is forwarded to the first-party extractors that use it (the classifier is
    trained on it; the others read its sample shape).
    """
    if extractor is None or not isinstance(extractor, str):
        if extractor is not None and not callable(extractor):
            raise ValueError(f"extractor must be a registered name or a callable, got {extractor!r}")
        return extractor
    import aigc_sdk

    if extractor in _DATASET_EXTRACTORS and dataset is not None:
        options = {"dataset": dataset, **options}
    if extractor == "classifier" and "dataset" not in options:
        raise ValueError("extractor='classifier' needs dataset=NAME (the classifier is trained on it)")
    return aigc_sdk.get_feature_extractor(extractor, **options)


def extractor_name(extractor: Any) -> str:
    """The name reports quote: values are comparable only within one extractor."""
    if extractor is None:
        return "identity"
    return str(getattr(extractor, "name", None) or getattr(extractor, "__name__", type(extractor).__name__))


class FeatureEvaluator(Evaluator):
    """Base class: owns the extractor and validates ``(N, D)`` float64 features.

    Subclasses implement ``_add(side, features)``, ``reset`` and ``compute``.
    """

    def __init__(self, extractor: ExtractorLike = None, *, dataset: str | None = None) -> None:
        self.extractor = resolve_extractor(extractor, dataset)
        self.extractor_name = extractor_name(self.extractor)
        self.dim: int | None = None

    def features(self, x: Any, arg: str) -> Tensor:
        """Run the extractor (if any) and validate: finite, 2-D, same width as before."""
        if self.extractor is not None:
            with torch.no_grad():
                x = self.extractor(x)
        elif isinstance(x, Tensor) and x.ndim > 2:
            raise ValueError(
                f"{arg} has shape {tuple(x.shape)}; this evaluator expects features (N, D). "
                "Pass extractor='raw' (or 'classifier', 'random-conv') to embed samples first"
            )
        feats = as_matrix(x, arg, min_rows=0)
        if self.dim is None:
            self.dim = feats.shape[1]
        elif feats.shape[1] != self.dim:
            raise ValueError(
                f"{arg} has {feats.shape[1]} feature columns, expected {self.dim} (from earlier updates)"
            )
        return feats

    def update(self, *, real: Any = None, fake: Any = None) -> None:
        """Accumulate a batch of real and/or generated samples (or their features)."""
        if real is None and fake is None:
            raise ValueError("update() needs real=..., fake=... or both")
        # Validate both before adding either, so a bad batch leaves the state untouched.
        r = None if real is None else self.features(real, "real")
        f = None if fake is None else self.features(fake, "fake")
        if r is not None and r.shape[0]:
            self._add("real", r)
        if f is not None and f.shape[0]:
            self._add("fake", f)

    def _add(self, side: str, feats: Tensor) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget all accumulated samples (the extractor is kept)."""
        self.dim = None


class BufferedFeatureEvaluator(FeatureEvaluator):
    """Keeps all features (float64 chunks) for metrics that need every sample (KID, P/R/D/C)."""

    def __init__(self, extractor: ExtractorLike = None, *, dataset: str | None = None) -> None:
        super().__init__(extractor, dataset=dataset)
        self._chunks: dict[str, list[Tensor]] = {"real": [], "fake": []}

    def _add(self, side: str, feats: Tensor) -> None:
        self._chunks[side].append(feats)

    def reset(self) -> None:
        """Forget all accumulated features."""
        super().reset()
        self._chunks = {"real": [], "fake": []}

    def gathered(self, side: str, min_rows: int, metric: str) -> Tensor:
        """All ``side`` features so far, requiring at least ``min_rows`` rows."""
        chunks = self._chunks[side]
        n = sum(c.shape[0] for c in chunks)
        if n < min_rows:
            raise ValueError(f"{metric} needs at least {min_rows} {side} samples, got {n}")
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]
