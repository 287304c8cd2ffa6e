"""``aigc doctor``: versions, compiled-op backend per device, CUDA, plugin health."""

from __future__ import annotations

import argparse
import json
import platform
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` sub-command."""
    p = subparsers.add_parser("doctor", help="check the installation: versions, kernels, devices, plugins")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def collect() -> dict[str, Any]:
    """Gather the health report."""
    from aigc_sdk._version import API_VERSION, __version__
    from aigc_sdk.commands.plugins import collect as collect_plugins

    report: dict[str, Any] = {
        "aigc_sdk": __version__,
        "plugin_api": API_VERSION,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        report["torch"] = torch.__version__
        report["torch_cuda_build"] = torch.version.cuda
        report["cuda_available"] = torch.cuda.is_available()
        report["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        report["threads"] = torch.get_num_threads()
    except ImportError as exc:  # pragma: no cover - torch is a hard dependency
        report["torch"] = f"not importable: {exc}"
    try:
        from aigc_sdk import ops

        report["ops_backend"] = ops.backend()
    except Exception as exc:  # report, never crash the doctor
        report["ops_backend"] = f"error: {type(exc).__name__}: {exc}"
    plugins = collect_plugins(include_all=False)
    report["plugins"] = {p["name"]: p["status"] for p in plugins["plugins"]}
    report["quarantined"] = {
        p["name"]: f"{p['stage']}: {p['error']}" for p in plugins["plugins"] if p["status"] == "quarantined"
    }
    report["conflicts"] = plugins["conflicts"]
    return report


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 1 when a plugin is quarantined or in conflict."""
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        for key, value in report.items():
            if isinstance(value, dict) and value:
                print(f"{key}:")
                for k, v in value.items():
                    print(f"  {k}: {v}")
            else:
                print(f"{key}: {value}")
    return 1 if report["quarantined"] or report["conflicts"] else 0
