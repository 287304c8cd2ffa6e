"""Every hook of the SDK: the contract between the core and plugin authors.

A plugin is a module (or object) exposed through the ``aigc_sdk`` entry-point group whose
functions are marked with :data:`aigc_sdk.hookimpl`. Implement only the hooks you need.

Registration hooks receive a ``register`` callable. Call it once per thing you provide::

    register(name, target, summary="one line", **metadata)

``target`` is either the factory itself (a class or function) or, better, a lazy
``"package.module:attribute"`` string: the core imports it only when the thing is created,
so listing plugins and ``aigc --help`` never import your model code.

Lifecycle hooks are called by :class:`aigc_sdk.training.Trainer`; callbacks (progress bars,
loggers, early stopping) are plain objects implementing them, passed as
``Trainer(callbacks=[...])`` or shipped by a plugin to act on every run.

Hooks are called through pluggy, so implementations may use ``@hookimpl(tryfirst=True)``,
``trylast``, ``wrapper=True`` (new-style wrappers) or ``hookwrapper=True`` as in pytest. Each
implementation runs isolated: if it raises, its plugin is quarantined and the others go on.
A hook name that is not defined here (a typo such as ``register_model``) quarantines the plugin
when it is loaded, unless marked ``@hookimpl(optionalhook=True)``.

Every hook here must be documented in ``docs/plugins.md`` (a test enforces it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from aigc_sdk.interfaces import GenerativeModel
    from aigc_sdk.training.trainer import Trainer

PROJECT_NAME = "aigc_sdk"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Registrar(Protocol):
    """The ``register`` callable every ``register_*`` hook receives."""

    def __call__(
        self, name: str, target: Callable[..., Any] | str, *, summary: str = "", **metadata: Any
    ) -> None:
        """Register one thing.

        :param name: the name users ask for (no ``:``; unique within your plugin and kind).
        :param target: the factory (class or function) or a lazy ``"package.module:attribute"``
            string, imported only when the thing is created.
        :param summary: one line shown by ``aigc plugins``.
        :param metadata: free keyword metadata users can filter on, e.g. ``family="gan"``.
        """


def hook_names() -> list[str]:
    """Names of every hook defined here (used to suggest the right one for a typo)."""
    module = sys.modules[__name__]
    return sorted(
        name
        for name, obj in vars(module).items()
        if callable(obj) and getattr(obj, f"{PROJECT_NAME}_spec", None) is not None
    )


# --------------------------------------------------------------------------- registration


@hookspec
def register_models(register: Registrar) -> None:
    """Register generative model families (GAN, VAE, AE, ... built from Generator,
    Discriminator, Encoder and Decoder components).

    ``target(**config)`` must return an :class:`aigc_sdk.interfaces.GenerativeModel`.
    Pass ``family="gan" | "vae" | "ae" | ...`` as metadata so users can filter.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_generators(register: Registrar) -> None:
    """Register generator networks that model families (GAN, cGAN) build by name.

    ``target(*, data_shape, num_classes, latent_dim, **config)`` must return an
    :class:`aigc_sdk.interfaces.Generator` mapping ``(N, latent_dim)`` latents (and labels when
    ``num_classes`` is set) to samples of ``data_shape``; images in [0, 1]. ``config`` holds the
    network's own keyword options, as the user wrote them in ``generator={"name": ..., **config}``.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_discriminators(register: Registrar) -> None:
    """Register discriminator networks that model families (GAN, cGAN) build by name.

    ``target(*, data_shape, num_classes, latent_dim, **config)`` must return an
    :class:`aigc_sdk.interfaces.Discriminator` giving one logit per sample. To take part in
    an auxiliary-classifier loss, also implement ``scores(x, condition) -> (logits, class_logits)``
    (:class:`aigc_sdk.interfaces.ScoringDiscriminator`); the model asks for it only then.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_encoders(register: Registrar) -> None:
    """Register encoder networks that model families (VAE, AE) build by name.

    ``target(*, data_shape, num_classes, latent_dim, **config)`` must return an
    :class:`aigc_sdk.interfaces.Encoder` mapping samples to ``(N, latent_dim)`` codes. A VAE asks
    for ``latent_dim = 2 * its latent size`` and reads the two halves as ``(mu, logvar)``.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_decoders(register: Registrar) -> None:
    """Register decoder networks that model families (VAE, AE) build by name.

    ``target(*, data_shape, num_classes, latent_dim, **config)`` must return an
    :class:`aigc_sdk.interfaces.Decoder` mapping ``(N, latent_dim)`` codes to pre-activation
    outputs of ``data_shape`` (logits for images; the model applies the likelihood).

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_evaluators(register: Registrar) -> None:
    """Register evaluators (metrics). ``target(**config)`` returns an
    :class:`aigc_sdk.interfaces.Evaluator`.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_feature_extractors(register: Registrar) -> None:
    """Register feature extractors used by evaluators (classifier features, random
    conv features, raw pixels, or a network whose weights the user has locally).
    ``target(**config)`` returns an :class:`aigc_sdk.interfaces.FeatureExtractor`.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_datasets(register: Registrar) -> None:
    """Register offline data sets. ``target(**options)`` returns an
    :class:`aigc_sdk.interfaces.DatasetProvider`; no data set may download at run time.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_use_cases(register: Registrar) -> None:
    """Register business use-cases (synthetic tables, anomaly detection, recommendation,
    augmentation). ``target(**config)`` returns an :class:`aigc_sdk.interfaces.UseCase`.

    :param register: call ``register(name, target, summary=..., **metadata)`` once per thing.
    """


@hookspec
def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add sub-commands to the ``aigc`` CLI.

    ``subparsers`` is the :mod:`argparse` sub-parsers object of the ``aigc`` parser. Add a
    parser and set ``func`` with ``parser.set_defaults(func=callable)``; the callable
    receives the parsed ``argparse.Namespace`` and returns an exit code. Keep imports of
    heavy modules inside ``func`` so ``aigc --help`` stays fast.

    :param subparsers: the ``aigc`` parser's sub-parsers; call ``subparsers.add_parser(...)``.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec
def on_fit_start(trainer: Trainer, model: GenerativeModel) -> None:
    """Called once before the first training step (after a resume has restored state).

    :param trainer: the running :class:`aigc_sdk.training.Trainer` (``trainer.step``,
        ``trainer.out_dir``, ``trainer.config``).
    :param model: the model being trained.
    """


@hookspec
def on_train_step_end(
    trainer: Trainer, model: GenerativeModel, step: int, metrics: Mapping[str, float]
) -> None:
    """Called after every optimisation step with that step's scalar metrics.

    :param trainer: the running Trainer.
    :param model: the model being trained.
    :param step: the number of steps done so far (1 after the first step).
    :param metrics: that step's scalars (losses, learning rate, ...), averaged across data-parallel ranks.
    """


@hookspec
def on_checkpoint_saved(trainer: Trainer, model: GenerativeModel, step: int, path: str) -> None:
    """Called after a checkpoint has been written completely (atomically) to ``path``.

    :param trainer: the running Trainer.
    :param model: the model being trained.
    :param step: the step the checkpoint holds.
    :param path: the checkpoint's directory.
    """


@hookspec
def on_fit_end(trainer: Trainer, model: GenerativeModel, metrics: Mapping[str, float]) -> None:
    """Called once when training stops, normally or on divergence, with the last metrics.

    :param trainer: the Trainer that ran.
    :param model: the trained model.
    :param metrics: the last step's scalars.
    """
