"""``aigc_sdk.evaluate``: score a saved model or a folder of PNG images against a data set.

The core never imports a plugin by name: evaluators and feature extractors come from the
registry, and each evaluator's registration metadata ``inputs`` says what it consumes
(``"features"``: extractor features of real and generated samples; ``"samples"``: generated
samples, scored with the data set classifier; ``"conditional"``: generated samples and the
class they were generated for). Nothing is written here; see :func:`write_report`.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aigc_sdk.io import atomic_write_text

DEFAULT_METRICS = ("fid", "kid", "prc", "dc", "cas")
_MODEL_FILES = ("config.json", "model.safetensors")


# ----------------------------------------------------------------------------- sources
def _find_model_dir(path: Path) -> Path | None:
    """``path`` itself if it holds a saved model, else its newest sub-folder that does."""
    if all((path / f).exists() for f in _MODEL_FILES):
        return path
    candidates = [p.parent for p in path.rglob("model.safetensors") if (p.parent / "config.json").exists()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


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


def _sample_model(
    model: Any, n: int, seed: int, batch_size: int, sample_shape: tuple[int, ...]
) -> tuple[Any, Any]:
    """``n`` samples (and their conditions, balanced over classes in seeded order)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    classes = _num_classes(model)
    labels = None
    if classes:
        labels = (torch.arange(n) % classes)[torch.randperm(n, generator=g)]
    parts = []
    with torch.no_grad():
        for s in range(0, n, batch_size):
            m = min(batch_size, n - s)
            cond = None if labels is None else labels[s : s + m]
            parts.append(model.sample(m, generator=g, condition=cond).detach().float().cpu())
    x = torch.cat(parts)
    if tuple(x.shape[1:]) != tuple(sample_shape):
        if x[0].numel() != int(torch.tensor(sample_shape).prod()):
            raise ValueError(
                f"model samples have shape {tuple(x.shape[1:])}, the data set {tuple(sample_shape)}"
            )
        x = x.reshape(x.shape[0], *sample_shape)
    if not torch.isfinite(x).all():
        raise ValueError("the model generated NaN or infinite values")
    return x, labels


# ----------------------------------------------------------------------------- evaluate
def evaluate(
    source: str | os.PathLike[str],
    *,
    dataset: str,
    metrics: Sequence[str] = DEFAULT_METRICS,
    n: int = 10000,
    extractor: str = "classifier",
    seed: int = 0,
    batch_size: int = 1000,
    real_split: str = "train",
) -> dict[str, Any]:
    """Score generated samples against ``dataset``'s ``real_split``.

    Args:
        source: a saved model directory (``config.json`` + ``model.safetensors``, or a run
            directory containing one: the newest is used) or a folder of PNG images (labels,
            for CAS, come from integer-named sub-folders).
        dataset: registered data set name.
        metrics: registered evaluator names (``fid``, ``kid``, ``prc``, ``dc``, ``prdc``,
            ``swd``, ``is``, ``cas``).
        n: generated samples (a PNG folder contributes all its images); the real side uses
            up to ``n`` samples of ``real_split``.
        extractor: feature extractor for the feature metrics; reports quote its name.
        seed: seeds sampling, class conditions and the seeded metrics.
        batch_size: sampling and feature-extraction batch size.

    Returns:
        A JSON-serialisable report: ``metrics`` (name -> value), ``higher_is_better``,
        ``extractor``, ``skipped`` (metric -> reason), sample counts and timings.
    """
    import torch

    import aigc_sdk
    from aigc_sdk.registry import default_registry

    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    metrics = [m.strip() for m in ([metrics] if isinstance(metrics, str) else metrics) if m.strip()]
    if not metrics:
        raise ValueError("metrics is empty")
    reg = default_registry()
    kinds = {m: reg.get("evaluator", m).metadata.get("inputs", "features") for m in metrics}
    path = Path(source)
    if not path.exists():
        raise ValueError(f"source {str(path)!r} does not exist")
    t0 = time.perf_counter()
    provider = aigc_sdk.load_dataset(dataset)
    sample_shape = tuple(provider.sample_shape)

    model_dir = _find_model_dir(path) if path.is_dir() else None
    if model_dir is not None:
        model = aigc_sdk.load(str(model_dir))
        if hasattr(model, "eval"):
            model.eval()
        fake, labels = _sample_model(model, n, seed, batch_size, sample_shape)
        source_kind = "model"
    elif path.is_dir():
        fake, labels = _load_pngs(path, sample_shape)
        source_kind = "images"
    else:
        raise ValueError(f"source {str(path)!r} must be a model directory or a folder of PNG images")
    t_sample = time.perf_counter()

    real_x = provider.load(real_split).tensors[0]
    g = torch.Generator().manual_seed(seed)
    real_x = real_x[torch.randperm(real_x.shape[0], generator=g)[:n]]

    report: dict[str, Any] = {
        "source": str(path),
        "source_kind": source_kind,
        "model_dir": None if model_dir is None else str(model_dir),
        "dataset": dataset,
        "real_split": real_split,
        "n_real": int(real_x.shape[0]),
        "n_fake": int(fake.shape[0]),
        "seed": seed,
        "extractor": None,
        "metrics": {},
        "higher_is_better": {},
        "skipped": {},
    }

    needs_classifier = (
        any(k in ("samples", "conditional") for k in kinds.values()) or extractor == "classifier"
    )
    classifier = aigc_sdk.get_feature_extractor("classifier", dataset=dataset) if needs_classifier else None
    if classifier is not None:
        report["classifier"] = classifier.name
        report["classifier_test_accuracy"] = float(classifier.test_accuracy)

    feats: tuple[Any, Any] | None = None
    if any(k == "features" for k in kinds.values()):
        ext: Any = (
            classifier
            if extractor == "classifier"
            else aigc_sdk.get_feature_extractor(extractor, dataset=dataset)
        )
        report["extractor"] = ext.name

        def embed(x: Any) -> Any:
            return torch.cat([ext(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])

        feats = (embed(real_x), embed(fake))

    for name in metrics:
        kind = kinds[name]
        if kind == "features":
            ev = aigc_sdk.get_evaluator(name)
            assert feats is not None
            ev.update(real=feats[0], fake=feats[1])
        elif kind == "samples":
            ev = aigc_sdk.get_evaluator(name, classifier=classifier)
            ev.update(fake=fake)
        elif kind == "conditional":
            if labels is None:
                report["skipped"][name] = (
                    "needs class-conditional samples (a conditional model, or class sub-folders)"
                )
                continue
            ev = aigc_sdk.get_evaluator(name, classifier=classifier)
            ev.update(fake=fake, labels=labels)
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
    report["seconds"] = {"sampling": t_sample - t0, "total": time.perf_counter() - t0}
    return report


# ----------------------------------------------------------------------------- output
def report_to_markdown(report: dict[str, Any]) -> str:
    """A Markdown table of ``report["metrics"]`` with directions and the extractor named."""
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
    lines += ["", "| metric | value | better |", "|---|---:|:---:|"]
    for k, v in report.get("metrics", {}).items():
        arrow = "higher" if report.get("higher_is_better", {}).get(k) else "lower"
        lines.append(f"| {k} | {v:.6g} | {arrow} |")
    for k, why in report.get("skipped", {}).items():
        lines.append(f"| {k} | skipped: {why} | |")
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


__all__ = ["DEFAULT_METRICS", "evaluate", "report_to_markdown", "write_report"]
