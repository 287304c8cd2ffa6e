"""Classification accuracy score of class-conditional samples.

The data set's classifier (trained on real data) labels samples generated for a requested
class; the score is the fraction it labels as that class. (The train-on-synthetic,
test-on-real variant is :func:`aigc_metrics.tabular.ml_efficacy`.)
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from aigc_metrics._classifier_input import class_probabilities, resolve_classifier
from aigc_sdk.interfaces import Evaluator


def _labels(y: Any, n: int, arg: str) -> torch.Tensor:
    if y is None:
        raise ValueError(f"{arg} are required: the class each sample was generated for")
    t = torch.as_tensor(y)
    if t.shape != (n,):
        raise ValueError(f"{arg} must have shape ({n},), got {tuple(t.shape)}")
    if t.is_floating_point():
        raise ValueError(f"{arg} must be integer class labels, got dtype {t.dtype}")
    return t.long().cpu()


class CAS(Evaluator):
    """Streaming accuracy of the data set classifier on conditional samples.

    ``update(fake=x, labels=y)`` accumulates; ``update(real=x, real_labels=y)`` additionally
    measures the classifier on real data (``"cas_real"``, the ceiling). ``compute()``
    returns ``{"cas": accuracy}``. Without a classifier/dataset, inputs are logits or
    probabilities.
    """

    name: ClassVar[str] = "cas"
    higher_is_better: ClassVar[dict[str, bool]] = {"cas": True, "cas_real": True}

    def __init__(self, classifier: Any = None, *, dataset: str | None = None, inputs: str = "probs") -> None:
        self.classifier = resolve_classifier(classifier, dataset)
        self.extractor_name = getattr(self.classifier, "name", "identity")
        self.inputs = inputs
        self.reset()

    def reset(self) -> None:
        """Forget the counts."""
        self.correct = {"real": 0, "fake": 0}
        self.total = {"real": 0, "fake": 0}

    def update(
        self, *, real: Any = None, fake: Any = None, labels: Any = None, real_labels: Any = None
    ) -> None:
        """Count correct predictions; ``real`` without ``real_labels`` is ignored."""
        if fake is None and real is None:
            raise ValueError("update() needs fake=... and labels=...")
        batches = []
        if fake is not None:
            p = class_probabilities(self.classifier, fake, "fake", self.inputs)
            batches.append(("fake", p, _labels(labels, p.shape[0], "labels")))
        if real is not None and real_labels is not None:
            p = class_probabilities(self.classifier, real, "real", self.inputs)
            batches.append(("real", p, _labels(real_labels, p.shape[0], "real_labels")))
        for _, p, y in batches:
            if y.numel() and (y.min() < 0 or y.max() >= p.shape[1]):
                raise ValueError(
                    f"labels must lie in [0, {p.shape[1]}), got range [{int(y.min())}, {int(y.max())}]"
                )
        for side, p, y in batches:
            self.correct[side] += int((p.argmax(1) == y).sum())
            self.total[side] += int(y.numel())

    def compute(self) -> dict[str, float]:
        """``{"cas": accuracy[, "cas_real": accuracy]}``."""
        if self.total["fake"] == 0:
            raise ValueError("cas needs fake samples with labels; call update(fake=..., labels=...) first")
        out = {"cas": self.correct["fake"] / self.total["fake"]}
        if self.total["real"]:
            out["cas_real"] = self.correct["real"] / self.total["real"]
        return out
