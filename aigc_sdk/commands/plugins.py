"""``aigc plugins``: list installed plugins, what they register, and quarantined ones."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plugins`` sub-command."""
    p = subparsers.add_parser("plugins", help="list plugins, what they register, and failures")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument(
        "--all", action="store_true", help="also list skipped and blocked plugins, with tracebacks"
    )
    p.add_argument(
        "--check", action="store_true", help="exit with code 1 when any plugin is quarantined or in conflict"
    )
    actions = p.add_subparsers(dest="plugins_action", metavar="ACTION")
    new = actions.add_parser("new", help="write a ready-to-install plugin package NAME/")
    new.add_argument("name", metavar="NAME", help="distribution name, e.g. my-aigc-plugin")
    new.add_argument("--dir", default=".", help="where to create NAME/ (default: the current directory)")
    new.set_defaults(func=run_new)
    p.set_defaults(func=run)


def run_new(args: argparse.Namespace) -> int:
    """Write a new plugin package and say how to install and test it."""
    from pathlib import Path

    from aigc_sdk.commands.plugin_template import write_plugin_package

    target = write_plugin_package(args.name, Path(args.dir))
    print(f"wrote {target}/: pyproject.toml, README.md, a model, a metric and conformance tests")
    print(f"next: pip install -e {target} && pytest {target}")
    return 0


def collect(include_all: bool) -> dict[str, Any]:
    """Gather the plugin report (builds every catalogue; imports no model code)."""
    from aigc_sdk.registry import default_registry

    registry = default_registry()
    host = registry.loaded_host()
    registry.all_registrations()  # runs every register_* hook, so failures show up here
    if not any("command" in i.registered for i in host.plugins.values()):
        from aigc_sdk.cli import build_parser

        build_parser()  # runs register_commands, which records who adds which command
    plugins = []
    for info in registry.host.plugins.values():
        if not include_all and info.status in ("skipped", "blocked"):
            continue
        entry = info.to_dict()
        if not include_all:
            entry.pop("traceback")
        plugins.append(entry)
    conflicts = {}
    for kind in registry._catalogs:
        for name, regs in registry.catalog(kind).conflicts.items():
            conflicts[f"{kind}:{name}"] = [f"{r.plugin} ({r.distribution})" for r in regs]
    from aigc_sdk.registry import NETWORK_KINDS

    networks = {
        kind: [
            {"name": n, "plugin": reg.plugin, "summary": reg.summary}
            for n in registry.list_names(kind)
            for reg in [registry.get(kind, n)]
        ]
        for kind in NETWORK_KINDS
    }
    return {
        "plugins": plugins,
        "networks": networks,
        "quarantined": [p.name for p in registry.host.quarantined()],
        "conflicts": conflicts,
    }


def run(args: argparse.Namespace) -> int:
    """Print the plugin report as a table or JSON."""
    report = collect(args.all)
    failed = 1 if getattr(args, "check", False) and (report["quarantined"] or report["conflicts"]) else 0
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return failed
    for p in report["plugins"]:
        version = p["version"] or "-"
        print(f"{p['name']:<14} {p['status']:<12} {p['distribution'] or '(direct)'} {version}")
        if p["hooks"]:
            print(f"    hooks: {', '.join(p['hooks'])}")
        for kind, names in sorted(p["registered"].items()):
            summaries = p.get("summaries", {}).get(kind, {})
            for name in names:
                summary = summaries.get(name) or ""
                print(f"    {kind} {name}" + (f": {summary}" if summary else ""))
        if p["error"]:
            print(f"    {p['stage'] or p['status']}: {p['error']}")
        if args.all and p.get("traceback"):
            print("    " + p["traceback"].rstrip().replace("\n", "\n    "))
    for what, who in report["conflicts"].items():
        print(f"conflict: {what} registered by {' and '.join(who)}")
    # Networks are what model families compose (generator=, discriminator=, encoder=, decoder=).
    print("networks (pass by name, e.g. create_model('gan', discriminator='resnet')):")
    for kind, entries in report["networks"].items():
        names = ", ".join(f"{e['name']} ({e['plugin']})" for e in entries) or "(none)"
        print(f"    {kind}s: {names}")
    return failed
