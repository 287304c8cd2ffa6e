"""The SDK's evaluator conformance suite, run on every feature metric."""

from __future__ import annotations

import torch

from aigc_sdk.testing.conformance import EvaluatorConformance


class TestFID(EvaluatorConformance):
    evaluator_name = "fid"


class TestKID(EvaluatorConformance):
    evaluator_name = "kid"
    config = {"subsets": 10}


class TestPrecisionRecall(EvaluatorConformance):
    evaluator_name = "prc"


class TestDensityCoverage(EvaluatorConformance):
    evaluator_name = "dc"


class TestPRDC(EvaluatorConformance):
    evaluator_name = "prdc"


class TestSWD(EvaluatorConformance):
    evaluator_name = "swd"


class TestIS(EvaluatorConformance):
    evaluator_name = "is"
    config = {"inputs": "logits"}

    def make_features(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of 10 classes."""
        g = torch.Generator().manual_seed(seed)
        return torch.randn(self.n, 10, generator=g, dtype=torch.float64), torch.randn(
            self.n, 10, generator=g, dtype=torch.float64
        ) * 3
