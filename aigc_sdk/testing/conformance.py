"""Conformance suites for plugin authors (see :mod:`aigc_sdk.testing`).

Each suite is a plain class whose ``test_*`` methods pytest collects when you subclass it
in a ``Test*`` class. Override the hooks (``make_batch``, ``make_features``) when the
defaults do not fit your model's data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

import aigc_sdk
from aigc_sdk.interfaces import Evaluator, GenerativeModel


class ModelConformance:
    """Checks every registered model must pass: construction from config, seeded
    determinism, save/load round-trip, a CPU smoke run and clear errors on bad input."""

    #: Name the plugin registers the model under.
    model_name: ClassVar[str] = ""
    #: Small config that makes the model fast to build and train.
    config: ClassVar[dict[str, Any]] = {}
    #: Shape of one training sample; ``None`` asks the model (``sample(1)``).
    sample_shape: ClassVar[tuple[int, ...] | None] = None
    batch_size: ClassVar[int] = 8
    smoke_steps: ClassVar[int] = 2

    # -- hooks for authors -------------------------------------------------------------
    def make_model(self) -> GenerativeModel:
        """Build the model under test through the public registry."""
        if not self.model_name:
            pytest.fail("set `model_name` on your ModelConformance subclass")
        return aigc_sdk.create_model(self.model_name, **self.config)

    def make_batch(self, model: GenerativeModel) -> tuple[torch.Tensor, ...]:
        """A training batch: random data in [0, 1] (and labels for conditional models)."""
        g = torch.Generator().manual_seed(0)
        shape = self.sample_shape or tuple(
            model.sample(1, generator=torch.Generator().manual_seed(0)).shape[1:]
        )
        x = torch.rand(self.batch_size, *shape, generator=g)
        num_classes = getattr(model, "num_classes", None)
        if num_classes:
            return x, torch.randint(0, num_classes, (self.batch_size,), generator=g)
        return (x,)

    def _condition(self, model: GenerativeModel, n: int) -> torch.Tensor | None:
        num_classes = getattr(model, "num_classes", None)
        return torch.arange(n) % num_classes if num_classes else None

    # -- the suite --------------------------------------------------------------------
    def test_is_registered_and_built_from_config(self) -> None:
        """The name is listed, creation returns a GenerativeModel, and get_config rebuilds it."""
        assert self.model_name in aigc_sdk.list_models()
        model = self.make_model()
        assert isinstance(model, GenerativeModel)
        config = model.get_config()
        import json

        json.dumps(config)  # must be JSON-serialisable: nothing is pickled
        rebuilt = aigc_sdk.create_model(self.model_name, **config)
        assert rebuilt.get_config() == config

    def test_seeded_sampling_is_deterministic(self) -> None:
        """Same generator seed, same samples; different seed, different samples."""
        torch.manual_seed(0)
        model = self.make_model()
        cond = self._condition(model, 4)
        a = model.sample(4, generator=torch.Generator().manual_seed(1), condition=cond)
        b = model.sample(4, generator=torch.Generator().manual_seed(1), condition=cond)
        c = model.sample(4, generator=torch.Generator().manual_seed(2), condition=cond)
        assert a.shape[0] == 4
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
        assert torch.isfinite(a).all()

    def test_save_load_round_trip(self, tmp_path: Any) -> None:
        """``save`` then ``aigc_sdk.load`` restores a model that samples identically."""
        torch.manual_seed(0)
        model = self.make_model()
        model.save(str(tmp_path / "m"))
        loaded = aigc_sdk.load(str(tmp_path / "m"))
        assert type(loaded) is type(model)
        cond = self._condition(model, 3)
        a = model.sample(3, generator=torch.Generator().manual_seed(0), condition=cond)
        b = loaded.sample(3, generator=torch.Generator().manual_seed(0), condition=cond)
        assert torch.equal(a, b)

    def test_cpu_smoke_training(self) -> None:
        """A few training steps on CPU return finite float metrics and change parameters."""
        torch.manual_seed(0)
        model = self.make_model()
        before = [p.detach().clone() for p in model.parameters()]
        optimizers = model.configure_optimizers()
        batch = self.make_batch(model)
        for step in range(self.smoke_steps):
            metrics = model.training_step(batch, optimizers, step)
            assert metrics and all(isinstance(v, float) for v in metrics.values())
            assert all(v == v for v in metrics.values()), f"NaN metric: {metrics}"
        assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))

    def test_bad_input_is_rejected_clearly(self) -> None:
        """A negative sample count raises ValueError naming the argument."""
        model = self.make_model()
        with pytest.raises(ValueError, match="n"):
            model.sample(-1)


class EvaluatorConformance:
    """Checks every registered evaluator must pass: streaming equals one-shot, reset,
    determinism, documented directions and clear errors on bad input."""

    evaluator_name: ClassVar[str] = ""
    config: ClassVar[dict[str, Any]] = {}
    feature_dim: ClassVar[int] = 8
    n: ClassVar[int] = 64

    def make_evaluator(self) -> Evaluator:
        """Build the evaluator under test through the public registry."""
        if not self.evaluator_name:
            pytest.fail("set `evaluator_name` on your EvaluatorConformance subclass")
        return aigc_sdk.get_evaluator(self.evaluator_name, **self.config)

    def make_features(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, fake) inputs; by default Gaussian features of ``feature_dim``."""
        g = torch.Generator().manual_seed(seed)
        real = torch.randn(self.n, self.feature_dim, generator=g, dtype=torch.float64)
        fake = torch.randn(self.n, self.feature_dim, generator=g, dtype=torch.float64) + 0.5
        return real, fake

    def test_streaming_equals_one_shot(self) -> None:
        """Updating in two batches gives the same result as one update."""
        real, fake = self.make_features(0)
        one = self.make_evaluator()
        one.update(real=real, fake=fake)
        two = self.make_evaluator()
        half = self.n // 2
        two.update(real=real[:half], fake=fake[:half])
        two.update(real=real[half:], fake=fake[half:])
        a, b = one.compute(), two.compute()
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9)

    def test_compute_returns_floats_with_directions(self) -> None:
        """compute() returns finite floats, and every key has a higher_is_better entry."""
        real, fake = self.make_features(0)
        ev = self.make_evaluator()
        ev.update(real=real, fake=fake)
        out = ev.compute()
        assert out, "compute() returned nothing"
        for k, v in out.items():
            assert isinstance(v, float) and v == v, f"{k}={v!r}"
            assert k in ev.higher_is_better, f"higher_is_better lacks {k!r}"

    def test_reset_and_determinism(self) -> None:
        """reset() forgets; the same inputs give the same values."""
        real, fake = self.make_features(0)
        ev = self.make_evaluator()
        ev.update(real=real, fake=fake)
        first = ev.compute()
        ev.reset()
        other_real, other_fake = self.make_features(1)
        ev.update(real=other_real, fake=other_fake)
        ev.reset()
        ev.update(real=real, fake=fake)
        assert ev.compute() == first

    def test_bad_input_is_rejected_clearly(self) -> None:
        """Empty state or NaN features raise ValueError instead of returning NaN."""
        ev = self.make_evaluator()
        with pytest.raises(ValueError):
            ev.compute()
        real, fake = self.make_features(0)
        real[0, 0] = float("nan")
        with pytest.raises(ValueError):
            ev.update(real=real, fake=fake)
            ev.compute()
