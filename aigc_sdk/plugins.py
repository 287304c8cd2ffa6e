"""Plugin manager: discovery through the ``aigc_sdk`` entry-point group, lazy and
fault-isolated loading, allow/block lists, API-version checks and quarantine.

Nothing here imports torch. A plugin that fails to import, declares an incompatible API
range, or raises while registering is *quarantined*: its error and traceback are kept and
reported (``aigc plugins``, ``aigc doctor``) and every other plugin keeps working.

Environment variables:

``AIGC_SDK_PLUGINS=a,b``          load only these plugins (entry-point or distribution names)
``AIGC_SDK_DISABLE_PLUGINS=a,b``  never load these
``AIGC_SDK_TRACE_PLUGINS=1``      log every hook call (logger ``aigc_sdk.plugins``)

Names compare case-insensitively with ``-`` and ``_`` alike, empty values count as unset, and
names that match no installed plugin are warned about (see :mod:`aigc_sdk.env`).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import logging
import traceback
from types import ModuleType
from typing import Any

import pluggy

from aigc_sdk import hookspecs
from aigc_sdk._version import API_VERSION
from aigc_sdk.env import env_flag, env_names, normalise_name, warn_unknown_names

ENTRY_POINT_GROUP = "aigc_sdk"
log = logging.getLogger("aigc_sdk.plugins")


@dataclasses.dataclass
class PluginInfo:
    """What the host knows about one plugin, loaded or not."""

    name: str
    distribution: str | None
    version: str | None
    value: str | None
    status: str = "loaded"  # loaded | quarantined | skipped | blocked
    stage: str | None = None  # where it failed: import | api-version | register_* | conflict
    error: str | None = None
    traceback: str | None = None
    hooks: list[str] = dataclasses.field(default_factory=list)
    registered: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (used by ``aigc plugins --json``)."""
        return dataclasses.asdict(self)


def _dist_of(ep: md.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _check_api(module: Any) -> str | None:
    """Return why the plugin's declared API range excludes ours, or None if it fits."""
    spec = getattr(module, "AIGC_SDK_API", None)
    if spec is None:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        ok = SpecifierSet(str(spec)).contains(API_VERSION, prereleases=True)
    except InvalidSpecifier:
        return f"declares an invalid AIGC_SDK_API range {spec!r}"
    if not ok:
        return f"supports aigc_sdk plugin API {spec}, but this host provides API {API_VERSION}"
    return None


class PluginHost:
    """Owns the pluggy manager and the record of every plugin seen."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._loaded = False
        if env_flag("AIGC_SDK_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda msg: log.warning("trace: %s", msg.rstrip()))
            self.pm.enable_tracing()

    # ------------------------------------------------------------------ loading
    def load_entry_points(self) -> None:
        """Discover and import every plugin of the entry-point group (once)."""
        if self._loaded:
            return
        self._loaded = True
        only = env_names("AIGC_SDK_PLUGINS")
        blocked = env_names("AIGC_SDK_DISABLE_PLUGINS") or set()
        seen: set[str] = set()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist, version = _dist_of(ep)
            info = PluginInfo(name=ep.name, distribution=dist, version=version, value=ep.value)
            names = {normalise_name(ep.name), normalise_name(dist or ep.name)}
            seen |= names
            if ep.name in self.plugins:
                other = self.plugins[ep.name]
                if other.value == ep.value and other.distribution == dist:
                    continue  # the same distribution seen twice on sys.path
                info.status, info.stage = "quarantined", "conflict"
                info.error = (
                    f"plugin name {ep.name!r} is already taken by distribution "
                    f"{other.distribution!r} ({other.value}); {dist!r} ({ep.value}) was not loaded. "
                    "Rename one of the entry points."
                )
                log.warning("aigc_sdk: %s", info.error)
                self.plugins[f"{ep.name}@{dist}"] = info
                continue
            self.plugins[ep.name] = info
            if names & blocked:
                info.status, info.error = "blocked", "disabled by AIGC_SDK_DISABLE_PLUGINS"
                continue
            if only is not None and not names & only:
                info.status, info.error = "skipped", "not listed in AIGC_SDK_PLUGINS"
                continue
            try:
                module = ep.load()
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._quarantine(info, "import", exc)
                continue
            self.register(module, info)
        warn_unknown_names("AIGC_SDK_PLUGINS", only, seen)
        warn_unknown_names("AIGC_SDK_DISABLE_PLUGINS", blocked, seen)

    def register(self, plugin: Any, info: PluginInfo | None = None) -> PluginInfo:
        """Register a plugin object or module directly (tests, notebooks, apps)."""
        if info is None:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            info = PluginInfo(name=name, distribution=None, version=None, value=None)
            self.plugins[name] = info
        reason = _check_api(plugin)
        if reason:
            info.status, info.stage, info.error = "skipped", "api-version", reason
            log.warning("aigc_sdk: plugin %r skipped: %s", info.name, reason)
            return info
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:
            self._quarantine(info, "register", exc)
            return info
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        return info

    def quarantine(self, plugin_name: str, stage: str, exc: BaseException) -> None:
        """Mark a loaded plugin as broken and unregister it so its hooks stop running."""
        info = self.plugins[plugin_name]
        self._quarantine(info, stage, exc)
        plugin = self.pm.get_plugin(plugin_name)
        if plugin is not None:
            self.pm.unregister(plugin, name=plugin_name)

    def _quarantine(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        info.status, info.stage = "quarantined", stage
        info.error = f"{type(exc).__name__}: {exc}"
        info.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.warning("aigc_sdk: plugin %r quarantined (%s): %s", info.name, stage, info.error)

    # ------------------------------------------------------------------ queries
    def loaded_plugins(self) -> list[tuple[str, Any]]:
        """(name, plugin object) of every plugin currently registered."""
        return [(n, p) for n, p in self.pm.list_name_plugin() if p is not None]

    def quarantined(self) -> list[PluginInfo]:
        """Plugins that failed, with their errors."""
        return [p for p in self.plugins.values() if p.status == "quarantined"]

    def module_of(self, plugin_name: str) -> ModuleType | Any:
        """The registered plugin object."""
        return self.pm.get_plugin(plugin_name)
