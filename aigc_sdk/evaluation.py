"""``aigc_sdk.evaluate``: score a saved model, an in-memory model or a folder of PNG images
against a data set.

The core never imports a plugin by name: evaluators and feature extractors come from the
registry, and each evaluator's registration metadata ``inputs`` says what it consumes
(``"features"``: extractor features of real and generated samples; ``"samples"``: generated
samples, scored with the data set classifier; ``"conditional"``: generated samples and the
class they were generated for; ``"likelihood"``: the model's log-likelihood of held-out
data). Nothing is written here; see :func:`write_report`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from aigc_sdk.io import atomic_write_text, find_saved_model
from aigc_sdk.validation import check_int

DEFAULT_METRICS = ("fid", "kid", "prc", "dc", "cas")


# ----------------------------------------------------------------------------- sources
def _load_pngs(path: Path, sample_shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Images under ``path`` as (N, C, H, W) floats in [0, 1], resized to ``sample_shape``;
    labels when every image sits in a sub-folder named by an integer class."""
    import numpy as np
    import torch
    from PIL import Image

    files = sorted(path.rglob("*.png"))
    if not files:
        raise ValueError(
            f"source {str(path)!r} holds no saved model (config.json + model.safetensors) and no PNG files"
        )
    if len(sample_shape) != 3:
        raise ValueError(f"PNG folders can only be compared with image data sets, not shape {sample_shape}")
    c, h, w = sample_shape
    mode = {1: "L", 3: "RGB"}.get(c)
    if mode is None:
        raise ValueError(f"PNG folders need a data set with 1 or 3 channels, got {c}")
    arrays, labels = [], []
    for f in files:
        with Image.open(f) as raw:
            im = raw.convert(mode)
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.float32) / 255.0
        arrays.append(a[None] if c == 1 else a.transpose(2, 0, 1))
        parent = f.parent.name
        labels.append(int(parent) if f.parent != path and parent.isdigit() else None)
    x = torch.from_numpy(np.stack(arrays))
    y = None if any(v is None for v in labels) else torch.tensor(labels, dtype=torch.long)
    return x, y


def _num_classes(model: Any) -> int | None:
    for obj in (model, getattr(model, "generator", None)):
        n = getattr(obj, "num_classes", None)
        if isinstance(n, int) and n > 0:
            return n
    get_config = getattr(model, "get_config", None)
    n = get_config().get("num_classes") if callable(get_config) else None
    return n if isinstance(n, int) and n > 0 else None


def _model_device(model: Any) -> Any:
    import torch

    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    return torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """Every sub-module in eval mode for the block, then each back to its own mode."""
    modules = getattr(model, "modules", None)
    saved = [(m, m.training) for m in modules()] if callable(modules) else []
    if saved and callable(getattr(model, "eval", None)):
        model.eval()
    try:
        yield
    finally:
        for m, mode in saved:
            m.training = mode


def sample_model(
    model: Any,
    n: int,
    *,
    seed: int = 0,
    batch_size: int = 1000,
    sample_shape: Sequence[int] | None = None,
) -> tuple[Any, Any]:
    """``n`` samples of ``model`` as a float32 CPU tensor, and their class conditions.

    Conditional models (``num_classes`` on the model, its generator or its config) get
    class-balanced labels (``arange(n) % K``) in a seeded order, else the labels are None.
    Sampling runs under ``torch.no_grad`` with every sub-module in eval mode (modes are
    restored afterwards) and draws its noise from a generator seeded with ``seed`` (on the
    model's device; the global RNG is not touched), so the same seed gives the same
    samples. ``sample_shape``: reshape flat samples to it (ValueError when sizes differ).
    NaN or infinite samples raise ValueError.
    """
    import torch

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    g = torch.Generator().manual_seed(seed)
    classes = _num_classes(model)
    labels = None
    if classes:
        labels = (torch.arange(n) % classes)[torch.randperm(n, generator=g)]
    device = _model_device(model)
    # CPU models keep drawing from the label generator (as before); others get their own.
    gs = g if device.type == "cpu" else torch.Generator(device=device).manual_seed(seed)
    parts = []
    with torch.no_grad(), _eval_mode(model):
        for s in range(0, n, batch_size):
            m = min(batch_size, n - s)
            cond = None if labels is None else labels[s : s + m].to(device)
            parts.append(model.sample(m, generator=gs, condition=cond).detach().float().cpu())
    x = torch.cat(parts)
    if sample_shape is not None and tuple(x.shape[1:]) != tuple(sample_shape):
        if x[0].numel() != math.prod(sample_shape):
            raise ValueError(
                f"model samples have shape {tuple(x.shape[1:])}, the data set {tuple(sample_shape)}"
            )
        x = x.reshape(x.shape[0], *sample_shape)
    if not torch.isfinite(x).all():
        raise ValueError("the model generated NaN or infinite values")
    return x, labels


def has_likelihood(model: Any) -> bool:
    """Whether ``model`` offers ``log_likelihood(x, condition, *, k, generator, ...)``."""
    return model is not None and callable(getattr(model, "log_likelihood", None))


def _likelihood_error(metric: str, model: Any, source_kind: str) -> ValueError:
    if source_kind == "images":
        what = "a folder of PNG images has no log-likelihood"
    else:
        family = getattr(model, "family", None) or type(model).__name__
        what = f"model family {family!r} has no log-likelihood"
    return ValueError(f"metric {metric!r} needs a likelihood model (VAE family); {what}")


# ----------------------------------------------------------------------------- warnings
#: Below this recall, :func:`quality_warnings` reports mode collapse.
MIN_RECALL = 0.3
#: Below this precision, :func:`quality_warnings` reports low fidelity.
MIN_PRECISION = 0.5


def quality_warnings(
    metrics: Mapping[str, float], *, min_recall: float = MIN_RECALL, min_precision: float = MIN_PRECISION
) -> list[str]:
    """Plain-English warnings about ``metrics`` (a report's ``"metrics"`` dict).

    ``recall < min_recall`` (0.3) gives a "mode collapse" warning, ``precision <
    min_precision`` (0.5) a "low fidelity" one; missing or non-finite keys give none.
    """
    out = []
    recall, precision = metrics.get("recall"), metrics.get("precision")
    if recall is not None and math.isfinite(recall) and recall < min_recall:
        out.append(
            f"mode collapse: recall {recall:.3f} < {min_recall:g}: the samples cover only a small part "
            "of the real data (few modes or classes are generated)"
        )
    if precision is not None and math.isfinite(precision) and precision < min_precision:
        out.append(
            f"low fidelity: precision {precision:.3f} < {min_precision:g}: most samples lie outside "
            "the real data's manifold (they do not look like real samples)"
        )
    return out


# ----------------------------------------------------------------------------- evaluate
def _metric_kinds(metrics: Sequence[str] | str) -> dict[str, str]:
    from aigc_sdk.registry import default_registry

    names = [m.strip() for m in ([metrics] if isinstance(metrics, str) else metrics) if m.strip()]
    if not names:
        raise ValueError("metrics is empty")
    reg = default_registry()
    return {m: reg.get("evaluator", m).metadata.get("inputs", "features") for m in names}


def resolve_provider(dataset: str | Any, options: Mapping[str, Any] | None = None) -> Any:
    """The :class:`~aigc_sdk.interfaces.DatasetProvider` for a name (with options) or a provider."""
    import aigc_sdk
    from aigc_sdk.interfaces import DatasetProvider

    if isinstance(dataset, DatasetProvider):
        if options:
            raise ValueError("dataset_options apply to a data set name, not to a DatasetProvider")
        return dataset
    if not isinstance(dataset, str):
        raise ValueError(f"dataset must be a data set name or a DatasetProvider, got {dataset!r}")
    return aigc_sdk.load_dataset(dataset, **dict(options or {}))


def evaluate(
    source: str | os.PathLike[str] | Any,
    *,
    dataset: str | Any,
    metrics: Sequence[str] = DEFAULT_METRICS,
    n: int = 10000,
    extractor: str = "classifier",
    seed: int = 0,
    batch_size: int = 1000,
    real_split: str = "train",
    iwae_k: int = 100,
    dataset_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score generated samples against ``dataset``'s ``real_split``.

    Args:
        source: a saved model directory (``config.json`` + ``model.safetensors``, or a run
            directory containing one: the newest is used), a folder of PNG images (labels,
            for CAS, come from integer-named sub-folders), or an in-memory model (see
            :func:`evaluate_model`).
        dataset: registered data set name, or a :class:`~aigc_sdk.interfaces.DatasetProvider`.
        metrics: registered evaluator names (``fid``, ``kid``, ``prc``, ``dc``, ``prdc``,
            ``swd``, ``is``, ``cas``, ``iwae``).
        n: generated samples (a PNG folder contributes all its images); the real side uses
            up to ``n`` samples of ``real_split``; ``iwae`` scores up to ``n`` samples of the
            test split.
        extractor: feature extractor for the feature metrics; reports quote its name.
        seed: seeds sampling, class conditions and the seeded metrics.
        batch_size: sampling and feature-extraction batch size.
        iwae_k: importance samples per data point for ``iwae``.
        dataset_options: options for the named data set (``aigc_sdk.load_dataset(dataset, **options)``),
            e.g. ``{"root": "photos", "size": 64}`` for ``image-folder``.

    Returns:
        A JSON-serialisable report: ``metrics`` (name -> value), ``higher_is_better``,
        ``extractor`` (name, with the weight hash for the classifier), ``n_real``/``n_fake``,
        ``metric_info`` (per value: the samples and extractor behind it), ``skipped``
        (metric -> reason), ``quality_warnings`` (see :func:`quality_warnings`) and timings.

    Raises:
        ValueError: bad arguments, an unusable source, or ``iwae`` asked of a source with no
            log-likelihood (a GAN, a PNG folder).
    """
    import aigc_sdk
    from aigc_sdk.interfaces import GenerativeModel

    common: dict[str, Any] = {"n": n, "extractor": extractor, "seed": seed, "batch_size": batch_size}
    common.update(real_split=real_split, iwae_k=iwae_k, dataset_options=dataset_options)
    if isinstance(source, GenerativeModel):
        return evaluate_model(source, dataset=dataset, metrics=metrics, **common)
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(
            "source must be a model directory, a folder of PNG images or a GenerativeModel, "
            f"got {type(source).__name__}"
        )
    check_int("n", n, minimum=2)
    kinds = _metric_kinds(metrics)
    path = Path(source)
    if not path.exists():
        raise ValueError(f"source {str(path)!r} does not exist")
    if not path.is_dir():
        raise ValueError(f"source {str(path)!r} must be a model directory or a folder of PNG images")
    model_dir = find_saved_model(path)
    model = None
    if model_dir is not None:
        model = aigc_sdk.load(str(model_dir))
        if hasattr(model, "eval"):
            model.eval()
    return _evaluate(
        model,
        png_dir=None if model_dir is not None else path,
        source={"source": str(path), "model_dir": None if model_dir is None else str(model_dir)},
        dataset=dataset,
        kinds=kinds,
        **common,
    )


def evaluate_model(
    model: Any,
    *,
    dataset: str | Any,
    metrics: Sequence[str] = DEFAULT_METRICS,
    n: int = 10000,
    extractor: str = "classifier",
    seed: int = 0,
    batch_size: int = 1000,
    real_split: str = "train",
    iwae_k: int = 100,
    dataset_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score an in-memory model (a :class:`~aigc_sdk.interfaces.GenerativeModel`, or any
    object with ``sample(n, *, generator, condition)``) against ``dataset``.

    Same arguments and report as :func:`evaluate` (the report's ``source`` names the model's
    class). The model's train/eval modes, its weights and the global RNG are left as they
    were, so it can be called in the middle of training.
    """
    if not callable(getattr(model, "sample", None)):
        raise ValueError(
            f"model must be a GenerativeModel (or have sample(n, generator=..., condition=...)), "
            f"got {type(model).__name__}"
        )
    check_int("n", n, minimum=2)
    kinds = _metric_kinds(metrics)
    return _evaluate(
        model,
        png_dir=None,
        source={"source": f"<in-memory {type(model).__name__}>", "model_dir": None},
        dataset=dataset,
        kinds=kinds,
        n=n,
        extractor=extractor,
        seed=seed,
        batch_size=batch_size,
        real_split=real_split,
        iwae_k=iwae_k,
        dataset_options=dataset_options,
    )


def _evaluate(
    model: Any,
    *,
    png_dir: Path | None,
    source: dict[str, Any],
    dataset: str | Any,
    kinds: dict[str, str],
    n: int,
    extractor: str,
    seed: int,
    batch_size: int,
    real_split: str,
    iwae_k: int,
    dataset_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The shared body of :func:`evaluate` and :func:`evaluate_model`."""
    import torch

    import aigc_sdk
    from aigc_sdk.interfaces import split_tensors

    check_int("batch_size", batch_size, minimum=1)
    check_int("iwae_k", iwae_k, minimum=1)
    source_kind = "images" if png_dir is not None else "model"
    # Fail before any sampling when a metric cannot be computed for this source.
    for name, kind in kinds.items():
        if kind == "likelihood" and (png_dir is not None or not has_likelihood(model)):
            raise _likelihood_error(name, model, source_kind)
    t0 = time.perf_counter()
    provider = resolve_provider(dataset, dataset_options)
    dataset = provider if not isinstance(dataset, str) or dataset_options else dataset
    sample_shape = tuple(provider.sample_shape)
    sampled = [k for k in kinds.values() if k in ("features", "samples", "conditional")]
    fake = labels = None
    if png_dir is not None:
        fake, labels = _load_pngs(png_dir, sample_shape)
    elif sampled:
        fake, labels = sample_model(model, n, seed=seed, batch_size=batch_size, sample_shape=sample_shape)
    t_sample = time.perf_counter()

    real_x = None
    if any(k == "features" for k in kinds.values()):
        real = provider.load(real_split)
        g = torch.Generator().manual_seed(seed)
        real_x = split_tensors(real, torch.randperm(len(real), generator=g)[:n])[0]

    report: dict[str, Any] = {
        **source,
        "source_kind": source_kind,
        "model_family": None if model is None else getattr(model, "family", None),
        "dataset": dataset if isinstance(dataset, str) else str(getattr(provider, "name", "data")),
        "dataset_options": {
            k: str(v) if not isinstance(v, (int, float, bool, str)) else v
            for k, v in (dataset_options or {}).items()
        },
        "real_split": real_split,
        "n_real": None if real_x is None else int(real_x.shape[0]),
        "n_fake": None if fake is None else int(fake.shape[0]),
        "seed": seed,
        "extractor": None,
        "extractor_weights_sha256": None,
        "metrics": {},
        "higher_is_better": {},
        "metric_info": {},
        "skipped": {},
    }

    feature_metrics = any(k == "features" for k in kinds.values())
    needs_classifier = any(k in ("samples", "conditional") for k in kinds.values()) or (
        extractor == "classifier" and feature_metrics
    )
    classifier = aigc_sdk.get_feature_extractor("classifier", dataset=dataset) if needs_classifier else None
    if classifier is not None:
        report["classifier"] = classifier.name
        report["classifier_test_accuracy"] = float(classifier.test_accuracy)

    feats: tuple[Any, Any] | None = None
    if feature_metrics:
        ext: Any = (
            classifier
            if extractor == "classifier"
            else aigc_sdk.get_feature_extractor(extractor, dataset=dataset)
        )
        report["extractor"] = ext.name
        report["extractor_weights_sha256"] = getattr(ext, "weights_sha256", None)

        def embed(x: Any) -> Any:
            with torch.no_grad():
                return torch.cat([ext(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])

        feats = (embed(real_x), embed(fake))

    for name, kind in kinds.items():
        info: dict[str, Any]
        if kind == "features":
            ev = aigc_sdk.get_evaluator(name)
            assert feats is not None
            ev.update(real=feats[0], fake=feats[1])
            info = {"n_real": report["n_real"], "n_fake": report["n_fake"], "extractor": report["extractor"]}
        elif kind == "samples":
            ev = aigc_sdk.get_evaluator(name, classifier=classifier)
            ev.update(fake=fake)
            info = {"n_fake": report["n_fake"], "classifier": report.get("classifier")}
        elif kind == "conditional":
            if labels is None:
                report["skipped"][name] = (
                    "needs class-conditional samples (a conditional model, or class sub-folders)"
                )
                continue
            ev = aigc_sdk.get_evaluator(name, classifier=classifier)
            ev.update(fake=fake, labels=labels)
            info = {"n_fake": report["n_fake"], "classifier": report.get("classifier")}
        elif kind == "likelihood":
            ev, info = _likelihood(name, model, provider, n=n, seed=seed, k=iwae_k)
            report.setdefault("likelihood", {})[name] = info
        else:
            report["skipped"][name] = f"evaluator inputs {kind!r} are not supported by evaluate()"
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = ev.compute()
        if caught:
            report.setdefault("warnings", {})[name] = [str(w.message) for w in caught]
        report["metrics"].update({k: float(v) for k, v in values.items()})
        report["higher_is_better"].update({k: bool(ev.higher_is_better.get(k, False)) for k in values})
        report["metric_info"].update({k: {"metric": name, **info} for k in values})
    report["quality_warnings"] = quality_warnings(report["metrics"])
    report["seconds"] = {"sampling": t_sample - t0, "total": time.perf_counter() - t0}
    return report


def _likelihood(
    name: str, model: Any, provider: Any, *, n: int, seed: int, k: int
) -> tuple[Any, dict[str, Any]]:
    """Run a likelihood evaluator on up to ``n`` seeded samples of the test split."""
    import torch

    import aigc_sdk
    from aigc_sdk.interfaces import split_tensors

    test = provider.load("test")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(test), generator=g)[:n]
    tensors = split_tensors(test, idx)
    x = tensors[0]
    conditional = _num_classes(model) is not None
    y = tensors[1] if conditional and len(tensors) > 1 else None
    if conditional and y is None:
        raise ValueError(f"metric {name!r} on a class-conditional model needs a labelled data set")
    ev = aigc_sdk.get_evaluator(name, model=model, k=k, seed=seed)
    with _eval_mode(model):
        ev.update(real=x, real_labels=y)
    info = {
        "split": "test",
        "n": int(x.shape[0]),
        "k": k,
        "conditional": conditional,
        "dims": int(x[0].numel()),
        "units": "nats per sample (iwae_nll); bits per dimension (iwae_bpd = nll / (dims ln 2))",
    }
    return ev, info


# ----------------------------------------------------------------------------- output
def _n_cell(info: dict[str, Any]) -> str:
    if "split" in info:
        return f"{info['n']} {info['split']} (k={info['k']})"
    if "n_real" in info:
        return f"{info['n_real']} real / {info['n_fake']} fake"
    return f"{info.get('n_fake')} fake"


def _with_cell(info: dict[str, Any]) -> str:
    if "split" in info:
        return "model log-likelihood (IWAE)"
    name = info.get("extractor") or info.get("classifier")
    return f"`{name}`" if name else ""


def report_to_markdown(report: dict[str, Any]) -> str:
    """A Markdown table of ``report["metrics"]``: each value with its direction, the samples
    it was computed from and the extractor (with its weight hash); quality warnings below."""
    lines = [
        f"# Evaluation of `{report.get('source')}` on `{report.get('dataset')}`",
        "",
        f"- extractor: `{report.get('extractor')}` (values are comparable only within one extractor)",
        f"- samples: {report.get('n_fake')} generated vs {report.get('n_real')} real"
        f" ({report.get('real_split')}), seed {report.get('seed')}",
    ]
    if report.get("classifier"):
        lines.append(
            f"- classifier: `{report['classifier']}` (test accuracy {report['classifier_test_accuracy']:.4f})"
        )
    lines += ["", "| metric | value | better | n | scored with |", "|---|---:|:---:|---:|---|"]
    infos = report.get("metric_info", {})
    for k, v in report.get("metrics", {}).items():
        arrow = "higher" if report.get("higher_is_better", {}).get(k) else "lower"
        info = infos.get(k, {})
        lines.append(f"| {k} | {v:.6g} | {arrow} | {_n_cell(info) if info else ''} | {_with_cell(info)} |")
    for k, why in report.get("skipped", {}).items():
        lines.append(f"| {k} | skipped: {why} | | | |")
    if report.get("quality_warnings"):
        lines += ["", "## Warnings", ""]
        lines += [f"- {w}" for w in report["quality_warnings"]]
    return "\n".join(lines) + "\n"


def write_report(
    report: dict[str, Any],
    *,
    json_path: str | os.PathLike[str] | None = None,
    markdown_path: str | os.PathLike[str] | None = None,
) -> None:
    """Write the report as JSON and/or Markdown, each atomically (temp file + rename)."""
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    if markdown_path is not None:
        atomic_write_text(markdown_path, report_to_markdown(report))


__all__ = [
    "DEFAULT_METRICS",
    "MIN_PRECISION",
    "MIN_RECALL",
    "evaluate",
    "evaluate_model",
    "has_likelihood",
    "quality_warnings",
    "report_to_markdown",
    "sample_model",
    "write_report",
]
