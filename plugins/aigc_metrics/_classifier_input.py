"""Resolve the classifier behind the classifier-based scores (IS, CAS)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from aigc_metrics._checks import as_matrix


def resolve_classifier(classifier: Any, dataset: str | None) -> Any:
    """``classifier`` object, else the data set's ``"classifier"`` extractor, else ``None``
    (inputs are then class probabilities or logits)."""
    if classifier is not None:
        if isinstance(classifier, str):
            import aigc_sdk

            if dataset is None:
                raise ValueError(f"classifier={classifier!r} needs dataset=NAME")
            return aigc_sdk.get_feature_extractor(classifier, dataset=dataset)
        if not hasattr(classifier, "logits"):
            raise ValueError("classifier must provide .logits(x) (e.g. the 'classifier' feature extractor)")
        return classifier
    if dataset is not None:
        import aigc_sdk

        return aigc_sdk.get_feature_extractor("classifier", dataset=dataset)
    return None


def class_probabilities(classifier: Any, x: Any, arg: str, inputs: str) -> Tensor:
    """Softmax probabilities (float64) of ``x``.

    Without a classifier, ``x`` must already be ``(N, C)`` probabilities (``inputs="probs"``)
    or logits (``inputs="logits"``).
    """
    if classifier is not None:
        with torch.no_grad():
            logits = torch.as_tensor(classifier.logits(x))
        return torch.softmax(as_matrix(logits, arg, min_rows=0), dim=1)
    m = as_matrix(x, arg, min_rows=0)
    if inputs == "logits":
        return torch.softmax(m, dim=1)
    if inputs != "probs":
        raise ValueError(f"inputs must be 'probs' or 'logits', got {inputs!r}")
    if m.shape[0] and (
        (m < 0).any() or not torch.allclose(m.sum(1), torch.ones(m.shape[0], dtype=m.dtype), atol=1e-4)
    ):
        raise ValueError(
            f"{arg} must hold class probabilities (non-negative rows summing to 1) when no classifier is set"
        )
    return m
