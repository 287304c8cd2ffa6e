"""The ``augment`` use-case: enlarge a small labelled image set with class-conditional samples.

Recipe (no label leakage: only the labelled set's labels are ever used):

1. Optionally pseudo-label the unlabelled images with a small CNN trained (with random
   affine augmentation) on the labelled images only; keep the confident ones.
2. Train a class-conditional generative model (``cvae`` by default, ``cgan`` works too)
   from ``aigc_sdk.create_model`` on labelled + pseudo-labelled images.
3. Generate ``per_class`` images per class: VAE latent-space variations of that class's
   images (``source="variations"``, the default) or decodes of prior draws (``"prior"``).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from aigc_augment._data import labelled_images, unlabelled_images
from aigc_augment.classifier import predict_proba, train_classifier
from aigc_augment.variations import batch_variations
from aigc_sdk import threads
from aigc_sdk.interfaces import UseCase
from aigc_sdk.specs import check_allocation
from aigc_sdk.validation import check_int

SOURCES = ("variations", "prior")

#: Defaults sized for CPU: an MLP cVAE trains in about a minute on MNIST-sized sets.
DEFAULT_MODEL_CONFIG: dict[str, dict[str, Any]] = {
    "cvae": {"arch": "mlp", "latent_dim": 16, "hidden": 512},
    "cgan": {},
}


def _seconds(t0: float) -> float:
    return round(time.perf_counter() - t0, 2)


class Augmenter(UseCase):
    """Class-conditional augmentation of a labelled image set (optionally helped by unlabelled images).

    Args:
        model: registered class-conditional model name (``"cvae"`` or ``"cgan"``).
        model_config: extra keyword config for ``aigc_sdk.create_model`` (merged over the defaults).
        steps: optimisation steps of the generative model.
        batch_size: its batch size.
        source: ``"variations"`` (perturbed latent codes of real images; VAEs only) or ``"prior"``.
        strength: latent noise scale of ``"variations"`` in prior units.
        pseudo_label: use unlabelled images through a teacher's confident pseudo-labels.
        confidence: minimum teacher probability for a pseudo-label to be kept.
        teacher_steps: training steps of the teacher CNN.
        seed: seeds everything (same seed, same data, same samples).
        num_threads: torch intra-op threads during fit/sample (None leaves the setting alone).
        progress: show a progress bar (None: only when stderr is a terminal).
    """

    name: ClassVar[str] = "augment"

    def __init__(
        self,
        *,
        model: str = "cvae",
        model_config: dict[str, Any] | None = None,
        steps: int = 3000,
        batch_size: int = 128,
        source: str = "variations",
        strength: float = 1.0,
        pseudo_label: bool = True,
        confidence: float = 0.9,
        teacher_steps: int = 600,
        seed: int = 0,
        num_threads: int | None = None,
        progress: bool | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a registered model name, got {model!r}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        check_int("steps", steps)
        check_int("batch_size", batch_size)
        check_int("teacher_steps", teacher_steps)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not strength >= 0:
            raise ValueError(f"strength must be a non-negative number, got {strength!r}")
        if not 0.0 <= confidence < 1.0:
            raise ValueError(f"confidence must be in [0, 1), got {confidence!r}")
        if num_threads is not None:
            check_int("num_threads", num_threads)
        self.model_name = model
        self.model_config = {**DEFAULT_MODEL_CONFIG.get(model, {}), **(model_config or {})}
        self.steps, self.batch_size, self.source, self.strength = steps, batch_size, source, float(strength)
        self.pseudo_label, self.confidence, self.teacher_steps = (
            pseudo_label,
            float(confidence),
            teacher_steps,
        )
        self.seed, self.num_threads, self.progress = seed, num_threads, progress
        self.model: Any = None
        self.num_classes: int | None = None
        self.sample_shape: tuple[int, ...] | None = None
        self._pool: tuple[Tensor, Tensor] | None = None  # images (and labels) the generator was fitted on
        self._report: dict[str, Any] = {"use_case": self.name, "config": self.config()}

    def config(self) -> dict[str, Any]:
        """The JSON-serialisable constructor arguments."""
        return {
            "model": self.model_name,
            "model_config": dict(self.model_config),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "source": self.source,
            "strength": self.strength,
            "pseudo_label": self.pseudo_label,
            "confidence": self.confidence,
            "teacher_steps": self.teacher_steps,
            "seed": self.seed,
        }

    # ------------------------------------------------------------------ fit
    def fit(self, data: Any, *, unlabelled: Any = None, num_classes: int | None = None) -> Augmenter:  # type: ignore[override]
        """Fit the class-conditional generator.

        Args:
            data: labelled images: a TensorDataset ``(x, y)``, a DatasetProvider (its train
                split), or an ``(x, y)`` tuple; ``x`` is ``(N, C, H, W)`` in [0, 1].
            unlabelled: optional extra images; any labels they carry are ignored.
            num_classes: number of classes (default: largest label + 1).
        """
        x, y, k = labelled_images(data, num_classes)
        shape = tuple(x.shape[1:])
        xu = unlabelled_images(unlabelled, shape) if unlabelled is not None else None
        t0 = time.perf_counter()
        with threads.num_threads(self.num_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            info: dict[str, Any] = {"labelled": int(x.shape[0]), "unlabelled": 0, "pseudo_labelled": 0}
            model = self._build_model(k, shape)  # before any training: bad options fail fast
            xs, ys = x, y
            if xu is not None and self.pseudo_label:
                xp, yp, pinfo = self._pseudo_label(x, y, xu, k)
                xs, ys = torch.cat([x, xp]), torch.cat([y, yp])
                info.update(pinfo)
            info["class_counts"] = torch.bincount(ys, minlength=k).tolist()
            self.model = self._train_generator(model, xs, ys)
        self.num_classes, self.sample_shape, self._pool = k, shape, (xs, ys)
        info["fit_seconds"] = _seconds(t0)
        info["threads"] = torch.get_num_threads() if self.num_threads is None else self.num_threads
        self._report = {"use_case": self.name, "config": self.config(), "fit": info}
        return self

    def _pseudo_label(
        self, x: Tensor, y: Tensor, xu: Tensor, k: int
    ) -> tuple[Tensor, Tensor, dict[str, Any]]:
        """Confident teacher labels for ``xu``; the teacher sees only the labelled ``(x, y)``."""
        t0 = time.perf_counter()
        teacher = train_classifier(x, y, num_classes=k, steps=self.teacher_steps, affine=True, seed=self.seed)
        conf, label = predict_proba(teacher, xu).max(1)
        keep = conf >= self.confidence
        info = {
            "unlabelled": int(xu.shape[0]),
            "pseudo_labelled": int(keep.sum()),
            "teacher_seconds": _seconds(t0),
        }
        return xu[keep], label[keep], info

    def _build_model(self, k: int, shape: tuple[int, ...]) -> Any:
        """Create the class-conditional model through the registry and check it suits ``source``."""
        import aigc_sdk

        model = aigc_sdk.create_model(
            self.model_name, data_shape=list(shape), num_classes=k, **self.model_config
        )
        if getattr(model, "num_classes", None) != k:
            raise ValueError(f"model {self.model_name!r} is not class-conditional; use 'cvae' or 'cgan'")
        if self.source == "variations" and not callable(getattr(model, "encode", None)):
            # Checked before training: variations need an encoder, which GANs lack.
            raise ValueError(
                f"source='variations' needs a VAE (e.g. 'cvae'); use source='prior' for {self.model_name!r}"
            )
        return model

    def _train_generator(self, model: Any, x: Tensor, y: Tensor) -> Any:
        """Run ``steps`` of ``model.training_step`` on seeded batches drawn with replacement."""
        optimizers = model.configure_optimizers()
        rng = np.random.default_rng([self.seed, 1])
        model.train()
        metrics: dict[str, float] = {}
        bar = _progress(self.steps, self.progress, f"augment: training {self.model_name}")
        for step in range(self.steps):
            # Sampling with replacement keeps every batch full even for tiny labelled sets.
            idx = torch.from_numpy(rng.integers(0, x.shape[0], self.batch_size))
            metrics = model.training_step((x[idx], y[idx]), optimizers, step)
            if not all(np.isfinite(v) for v in metrics.values()):
                raise RuntimeError(f"{self.model_name} training diverged at step {step}: {metrics}")
            if bar is not None:
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix({m: f"{v:.3g}" for m, v in list(metrics.items())[:3]})
        if bar is not None:
            bar.close()
        self._last_metrics = {m: round(float(v), 4) for m, v in metrics.items()}
        return model.eval()

    @property
    def fitted_images(self) -> tuple[Tensor, Tensor]:
        """The ``(x, y)`` the generator was fitted on: labelled plus confidently pseudo-labelled images."""
        self._check_fitted()
        assert self._pool is not None
        return self._pool

    # ------------------------------------------------------------------ generate
    def _check_fitted(self) -> None:
        if self.model is None or self._pool is None:
            raise RuntimeError("call fit() before sampling")

    def sample(self, per_class: int, *, generator: torch.Generator | None = None) -> TensorDataset:
        """Generate ``per_class`` images for every class as ``TensorDataset(x, y)``, class-major."""
        check_int("per_class", per_class)
        self._check_fitted()
        assert self._pool is not None and self.num_classes is not None
        if generator is None:
            generator = torch.Generator().manual_seed(self.seed)
        k = self.num_classes
        shape = tuple(getattr(self.model, "data_shape", ()) or ())
        check_allocation(
            f"per_class={per_class}",
            4.0 * per_class * k * math.prod(shape),
            "use a smaller per_class",
            purpose=f"for {per_class * k} images",
        )
        labels = torch.arange(k).repeat_interleave(per_class)
        t0 = time.perf_counter()
        with threads.num_threads(self.num_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if self.source == "prior":
                x = (
                    self.model.sample(labels.shape[0], generator=generator, condition=labels)
                    .cpu()
                    .clamp(0, 1)
                )
            else:
                x = self._variation_samples(labels, generator)
        self._report["samples"] = {
            "per_class": per_class,
            "total": int(labels.shape[0]),
            "source": self.source,
            "sample_seconds": _seconds(t0),
        }
        return TensorDataset(x.float(), labels)

    def _variation_samples(self, labels: Tensor, generator: torch.Generator) -> Tensor:
        """For each requested label, perturb the code of a random fitted image of that class."""
        assert self._pool is not None
        px, py = self._pool
        picks = torch.empty_like(labels)
        for c in labels.unique().tolist():
            members = torch.nonzero(py == c).flatten()
            if members.numel() == 0:
                raise ValueError(f"class {c} has no images to vary; use source='prior' or add examples")
            want = labels == c
            choice = torch.randint(members.numel(), (int(want.sum()),), generator=generator)
            picks[want] = members[choice]
        return batch_variations(self.model, px[picks], labels, self.strength, generator=generator)

    def augment(
        self, data: Any, per_class: int, *, combine: bool = False, generator: torch.Generator | None = None
    ) -> TensorDataset:
        """Sample ``per_class`` images per class; with ``combine=True`` prepend the real ``data``."""
        synthetic = self.sample(per_class, generator=generator)
        if not combine:
            return synthetic
        x, y, _ = labelled_images(data, self.num_classes)
        xs, ys = synthetic.tensors
        return TensorDataset(torch.cat([x, xs]), torch.cat([y, ys]))

    def variations(
        self,
        image: Tensor,
        n: int,
        strength: float | None = None,
        *,
        condition: Any = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Variations of one image (see :func:`aigc_augment.variations.variations`).

        Without ``condition`` the class is taken from the nearest fitted image.
        """
        from aigc_augment.variations import variations

        self._check_fitted()
        assert self._pool is not None
        if condition is None and getattr(self.model, "num_classes", None):
            img = image.reshape(1, -1).float()
            px, py = self._pool
            condition = int(py[torch.cdist(img, px.reshape(px.shape[0], -1)).argmin()])
        s = self.strength if strength is None else strength
        return variations(self.model, image, n, s, generator=generator, condition=condition)

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        """JSON-serialisable summary: config, fit figures, last sampling, last losses."""
        out = dict(self._report)
        if getattr(self, "_last_metrics", None):
            out["final_losses"] = dict(self._last_metrics)
        return out

    def save_model(self, directory: str) -> None:
        """Save the fitted generative model (``aigc_sdk.load`` reads it back)."""
        from aigc_sdk.io import save_model

        self._check_fitted()
        save_model(self.model, directory)


def augment(
    dataset: Any,
    per_class: int,
    *,
    unlabelled: Any = None,
    combine: bool = False,
    generator: torch.Generator | None = None,
    **config: Any,
) -> TensorDataset:
    """Enlarge a labelled image set with ``per_class`` class-conditional samples per class.

    Args:
        dataset: labelled images (TensorDataset ``(x, y)``, DatasetProvider or ``(x, y)`` tuple).
        per_class: synthetic images per class (> 0).
        unlabelled: optional unlabelled images of the same shape (labels, if any, are ignored).
        combine: return real + synthetic instead of the synthetic set alone.
        generator: RNG for sampling (default: seeded from ``seed``).
        **config: :class:`Augmenter` options (``model``, ``steps``, ``seed``, ``source``, ...).

    Returns:
        ``TensorDataset(x, y)`` with ``x`` in [0, 1].
    """
    check_int("per_class", per_class)
    labelled_images(dataset)  # fail fast before any training
    aug = Augmenter(**config).fit(dataset, unlabelled=unlabelled)
    return aug.augment(dataset, per_class, combine=combine, generator=generator)


def _progress(total: int, enabled: bool | None, desc: str) -> Any:
    """A tqdm bar when wanted (None: only on a terminal), else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False)
