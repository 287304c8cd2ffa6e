"""Inception-style score from a classifier's softmax: exp(E_x KL(p(y|x) || p(y))).

With the data set's own classifier it rewards samples that are confidently classified and
cover all classes evenly; values range from 1 to the number of classes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from scipy.special import xlogy
from torch import Tensor

from aigc_metrics._classifier_input import class_probabilities, resolve_classifier
from aigc_sdk.interfaces import Evaluator


def inception_score(probs: Any, *, splits: int = 10, seed: int | None = 0) -> tuple[float, float]:
    """Mean and (population) std of the score over ``splits`` parts of ``probs`` ``(N, C)``.

    The rows are shuffled with ``seed`` before splitting (``seed=None``: no shuffle).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"probs must be a non-empty (N, C) array, got shape {p.shape}")
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise ValueError(f"splits must be a positive int, got {splits!r}")
    if p.shape[0] < splits:
        raise ValueError(f"the inception score needs at least splits={splits} samples, got {p.shape[0]}")
    if seed is not None:
        p = p[np.random.default_rng(seed).permutation(p.shape[0])]
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # xlogy gives 0 * log 0 = 0 for classes with zero probability.
        kl = (xlogy(part, part) - xlogy(part, marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionScore(Evaluator):
    """Streaming Inception-style score of generated samples.

    Args:
        classifier: an object with ``.logits(x)`` (default: the ``"classifier"`` extractor
            of ``dataset``); ``None`` with no dataset means ``fake`` already holds
            probabilities (``inputs="probs"``) or logits (``inputs="logits"``).
        dataset: data set whose classifier is used.
        splits: number of parts (10, as usual); seed: shuffle seed.

    ``compute()`` returns ``{"is": mean, "is_std": std}``; real samples, if given, add
    ``"is_real"`` (the reference value of the data itself).
    """

    name: ClassVar[str] = "is"
    higher_is_better: ClassVar[dict[str, bool]] = {"is": True, "is_std": False, "is_real": True}

    def __init__(
        self,
        classifier: Any = None,
        *,
        dataset: str | None = None,
        splits: int = 10,
        seed: int = 0,
        inputs: str = "probs",
    ) -> None:
        self.classifier = resolve_classifier(classifier, dataset)
        self.extractor_name = getattr(self.classifier, "name", "identity")
        self.splits, self.seed, self.inputs = splits, seed, inputs
        self.reset()

    def reset(self) -> None:
        """Forget accumulated probabilities."""
        self._probs: dict[str, list[Tensor]] = {"real": [], "fake": []}

    def update(self, *, real: Any = None, fake: Any = None) -> None:
        """Accumulate class probabilities of a batch of generated (and optionally real) samples."""
        if real is None and fake is None:
            raise ValueError("update() needs fake=... (and optionally real=...)")
        batch = {
            k: class_probabilities(self.classifier, v, k, self.inputs)
            for k, v in (("real", real), ("fake", fake))
            if v is not None
        }
        seen = [c for cs in self._probs.values() for c in cs]
        widths = {b.shape[1] for b in [*batch.values(), *seen]}
        if len(widths) > 1:
            raise ValueError(f"class counts differ between batches: {sorted(widths)}")
        for k, v in batch.items():
            self._probs[k].append(v)

    def compute(self) -> dict[str, float]:
        """``{"is", "is_std"[, "is_real"]}``."""
        if not self._probs["fake"]:
            raise ValueError("is needs fake samples; call update(fake=...) first")
        mean, std = inception_score(
            torch.cat(self._probs["fake"]).numpy(), splits=self.splits, seed=self.seed
        )
        out = {"is": mean, "is_std": std}
        if self._probs["real"]:
            out["is_real"] = inception_score(
                torch.cat(self._probs["real"]).numpy(), splits=self.splits, seed=self.seed
            )[0]
        return out
