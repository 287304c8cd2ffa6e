"""Markdown rendering of an augmentation report (the JSON report is the source of truth)."""

from __future__ import annotations

from typing import Any


def to_markdown(report: dict[str, Any]) -> str:
    """Render the dict from :meth:`Augmenter.report` (plus an optional ``evaluation``) as Markdown."""
    lines = ["# Augmentation report", ""]
    cfg = report.get("config", {})
    if cfg:
        lines += ["## Configuration", "", "| option | value |", "| --- | --- |"]
        lines += [f"| {k} | `{v}` |" for k, v in cfg.items()]
        lines.append("")
    fit = report.get("fit")
    if fit:
        lines += ["## Fit", "", "| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in fit.items()]
        lines.append("")
    samples = report.get("samples")
    if samples:
        lines += ["## Samples", "", "| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in samples.items()]
        lines.append("")
    ev = report.get("evaluation")
    if ev:
        lines += [
            "## Evaluation (small CNN, real test images)",
            "",
            "| training data | test accuracy | seconds |",
            "| --- | --- | --- |",
        ]
        for name, acc in ev.get("accuracy", {}).items():
            lines.append(f"| {name} | {acc:.4f} | {ev.get('seconds', {}).get(name, '')} |")
        if "lift" in ev:
            lines += ["", f"Lift from synthetic images: **{100 * ev['lift']:+.1f} accuracy points**."]
        lines.append("")
    outputs = report.get("outputs")
    if outputs:
        lines += ["## Files", ""] + [f"- {k}: `{v}`" for k, v in outputs.items()] + [""]
    return "\n".join(lines)
