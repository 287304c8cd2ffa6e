"""Catalogues of what plugins registered, and the public list_/create_/get_ functions that
the Python API and the CLI share.

Registration is lazy: a catalogue (models, evaluators, ...) is built the first time it is
asked for, by calling each plugin's ``register_*`` hook separately, so a plugin that raises
is quarantined without losing anyone else's registrations. Targets given as
``"module:attribute"`` strings are imported only when the thing is created.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from aigc_sdk.errors import PluginConflictError, PluginLoadError, UnknownNameError
from aigc_sdk.plugins import HookFailure, PluginHost, running_plugin

#: registered kind -> the hook that registers it (model kinds of a use-case are another thing)
REGISTRATION_HOOKS: dict[str, str] = {
    "model": "register_models",
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "encoder": "register_encoders",
    "decoder": "register_decoders",
    "evaluator": "register_evaluators",
    "feature_extractor": "register_feature_extractors",
    "dataset": "register_datasets",
    "use_case": "register_use_cases",
}


#: Kinds whose factories must return an instance of this aigc_sdk.interfaces class (evaluators
#: may duck-type theirs; networks are checked by create_network).
CREATED_TYPES: dict[str, str] = {
    "model": "GenerativeModel",
    "feature_extractor": "FeatureExtractor",
    "dataset": "DatasetProvider",
    "use_case": "UseCase",
}


def _interface(name: str) -> type | None:
    """The ``aigc_sdk.interfaces`` class ``name``, or None when that module was never imported
    (then nothing can be an instance of it). Read from ``sys.modules`` rather than imported:
    interfaces -> io -> registry must not lead back to interfaces."""
    module = sys.modules.get("aigc_sdk.interfaces")
    return getattr(module, name, None) if module is not None else None


@dataclasses.dataclass(frozen=True)
class Registration:
    """One registered thing: a name, where it comes from, and how to build it."""

    kind: str
    name: str
    target: Callable[..., Any] | str
    summary: str
    plugin: str
    distribution: str | None
    metadata: dict[str, Any]

    def resolve(self) -> Callable[..., Any]:
        """Import a lazy ``"module:attr"`` target (or return the callable as is)."""
        if callable(self.target):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise PluginLoadError(
                f"{self.kind} {self.name!r} from plugin {self.plugin!r} (distribution {self.distribution!r}) "
                f"could not be loaded from {self.target!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return obj

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        target = self.target if isinstance(self.target, str) else _qualname(self.target)
        return {
            "kind": self.kind,
            "name": self.name,
            "target": target,
            "summary": self.summary,
            "plugin": self.plugin,
            "distribution": self.distribution,
            **({"metadata": self.metadata} if self.metadata else {}),
        }


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


class RegistrationCollector:
    """The ``register`` callable handed to a ``register_*`` hook (one per kind and call).

    It implements :class:`aigc_sdk.hookspecs.Registrar` and files each registration under the
    plugin whose hook implementation is running, so a plugin that fails can be left out whole.
    """

    def __init__(self, kind: str, host: PluginHost) -> None:
        self.kind, self.host = kind, host
        self.by_plugin: dict[str, list[Registration]] = {}

    def __call__(
        self, name: str, target: Callable[..., Any] | str, *, summary: str = "", **metadata: Any
    ) -> None:
        """Register ``target`` under ``name``. See :mod:`aigc_sdk.hookspecs`."""
        plugin = running_plugin()
        if plugin is None:
            raise RuntimeError(f"register() for {self.kind}s may only be called from a register_* hook")
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError(f"{self.kind} name must be a non-empty string without ':', got {name!r}")
        if not (callable(target) or (isinstance(target, str) and ":" in target)):
            raise TypeError(
                f"target for {name!r} must be a callable or a 'module:attribute' string, got {target!r}"
            )
        entries = self.by_plugin.setdefault(plugin, [])
        if any(e.name == name for e in entries):
            raise ValueError(f"plugin {plugin!r} registered {self.kind} {name!r} twice")
        info = self.host.plugins.get(plugin)
        distribution = info.distribution if info else None
        entries.append(Registration(self.kind, name, target, summary, plugin, distribution, dict(metadata)))


class Catalog:
    """All registrations of one kind, with conflicts kept visible rather than dropped."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.entries: dict[str, Registration] = {}
        self.conflicts: dict[str, list[Registration]] = {}

    def add(self, reg: Registration) -> None:
        if reg.name in self.conflicts:
            self.conflicts[reg.name].append(reg)
        elif reg.name in self.entries:
            self.conflicts[reg.name] = [self.entries.pop(reg.name), reg]
        else:
            self.entries[reg.name] = reg

    def names(self) -> list[str]:
        """Every name that resolves: unique names plus ``plugin:name`` for conflicting ones."""
        qualified = [f"{r.plugin}:{r.name}" for regs in self.conflicts.values() for r in regs]
        return sorted([*self.entries, *qualified])

    def get(self, name: str) -> Registration:
        if name in self.entries:
            return self.entries[name]
        if name in self.conflicts:
            regs = self.conflicts[name]
            who = " and ".join(f"{r.plugin!r} (distribution {r.distribution!r})" for r in regs)
            options = ", ".join(f"'{r.plugin}:{r.name}'" for r in regs)
            raise PluginConflictError(
                f"{self.kind} {name!r} is registered by both {who}; ask for one of {options}, "
                "or disable one plugin with AIGC_SDK_DISABLE_PLUGINS"
            )
        plugin, sep, bare = name.partition(":")
        if sep:
            for reg in self.conflicts.get(bare, []) + [r for r in self.entries.values() if r.name == bare]:
                if reg.plugin == plugin:
                    return reg
        available = self.names()
        close = difflib.get_close_matches(name, available, n=1)
        raise UnknownNameError(self.kind.replace("_", " "), name, available, close[0] if close else None)


class Registry:
    """The plugin host plus one lazily built catalogue per kind."""

    def __init__(self, host: PluginHost | None = None, *, autoload: bool = True) -> None:
        self.host = host or PluginHost()
        self._autoload = autoload
        self._catalogs: dict[str, Catalog] = {}
        self._lock = threading.RLock()

    def catalog(self, kind: str) -> Catalog:
        """Build (once) and return the catalogue of ``kind``."""
        if kind not in REGISTRATION_HOOKS:
            raise ValueError(f"kind must be one of {sorted(REGISTRATION_HOOKS)}, got {kind!r}")
        with self._lock:
            if kind not in self._catalogs:
                if self._autoload:
                    self.host.load_entry_points()
                self._catalogs[kind] = self._build(kind)
            return self._catalogs[kind]

    def loaded_host(self) -> PluginHost:
        """The plugin host, with the installed plugins loaded unless this registry was made
        with ``autoload=False`` (an isolated registry for tests)."""
        if self._autoload:
            self.host.load_entry_points()
        return self.host

    def invalidate(self) -> None:
        """Forget built catalogues (after registering a plugin by hand)."""
        with self._lock:
            self._catalogs.clear()

    def _build(self, kind: str) -> Catalog:
        hook_name = REGISTRATION_HOOKS[kind]
        collector = RegistrationCollector(kind, self.host)
        _, failures = self.host.call_hook(hook_name, register=collector)
        failed = {f.plugin for f in failures}
        for plugin in failed:
            self._drop_plugin(plugin)
        catalog = Catalog(kind)
        for plugin, entries in collector.by_plugin.items():
            if plugin in failed:
                continue  # a plugin that raised half-way contributes nothing
            info = self.host.plugins.get(plugin)
            if info is not None:
                info.registered[kind] = [e.name for e in entries]
                info.summaries[kind] = {e.name: e.summary for e in entries}
            for entry in entries:
                catalog.add(entry)
        return catalog

    def _drop_plugin(self, plugin: str) -> None:
        for kind, cat in list(self._catalogs.items()):
            rebuilt = Catalog(kind)
            for reg in [*cat.entries.values(), *(r for rs in cat.conflicts.values() for r in rs)]:
                if reg.plugin != plugin:
                    rebuilt.add(reg)
            self._catalogs[kind] = rebuilt

    # ------------------------------------------------------------------ public helpers
    def list_names(self, kind: str, **filters: Any) -> list[str]:
        """Names of ``kind``, optionally filtered by metadata (e.g. ``family="gan"``)."""
        cat = self.catalog(kind)
        names = cat.names()
        if not filters:
            return names
        out = []
        for n in names:
            reg = cat.get(n)
            if all(reg.metadata.get(k) == v for k, v in filters.items()):
                out.append(n)
        return out

    def get(self, kind: str, name: str) -> Registration:
        """The registration of ``name`` (raises UnknownNameError / PluginConflictError)."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        return self.catalog(kind).get(name)

    def create(self, kind: str, name: str, /, **config: Any) -> Any:
        """Build ``name`` by calling its registered factory with ``config``.

        For kinds with a required interface (:data:`CREATED_TYPES`) the result is checked
        here, so a factory returning the wrong thing fails at once with its plugin named.
        """
        reg = self.get(kind, name)
        obj = reg.resolve()(**config)
        expected = CREATED_TYPES.get(kind)
        if expected is not None:
            cls = _interface(expected)
            if cls is None or not isinstance(obj, cls):
                raise TypeError(
                    f"{kind.replace('_', ' ')} {name!r} of plugin {reg.plugin!r}: its factory "
                    f"{_qualname(reg.target) if not isinstance(reg.target, str) else reg.target} returned "
                    f"{type(obj).__name__}, not an aigc_sdk.interfaces.{expected}"
                )
        return obj

    def all_registrations(self) -> list[Registration]:
        """Every registration of every kind (builds all catalogues)."""
        out: list[Registration] = []
        for kind in REGISTRATION_HOOKS:
            cat = self.catalog(kind)
            out.extend(cat.entries.values())
            out.extend(r for regs in cat.conflicts.values() for r in regs)
        return out


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def reset_default_registry() -> None:
    """Drop the process-wide registry so the next call rediscovers plugins (tests)."""
    global _default
    with _default_lock:
        _default = None


def plugin_manager() -> PluginHost:
    """The process-wide :class:`~aigc_sdk.plugins.PluginHost` (wraps the pluggy manager as ``.pm``)."""
    return default_registry().loaded_host()


def list_models(**filters: Any) -> list[str]:
    """Names of registered models; filter by metadata, e.g. ``list_models(family="vae")``."""
    return default_registry().list_names("model", **filters)


def create_model(name: str, /, **config: Any) -> Any:
    """Create a registered model from keyword config, e.g. ``create_model("vae", latent_dim=16)``."""
    return default_registry().create("model", name, **config)


def list_evaluators(**filters: Any) -> list[str]:
    """Names of registered evaluators (metrics)."""
    return default_registry().list_names("evaluator", **filters)


def get_evaluator(name: str, /, **config: Any) -> Any:
    """Create a registered evaluator, e.g. ``get_evaluator("fid", extractor="classifier")``."""
    return default_registry().create("evaluator", name, **config)


def list_feature_extractors(**filters: Any) -> list[str]:
    """Names of registered feature extractors."""
    return default_registry().list_names("feature_extractor", **filters)


def get_feature_extractor(name: str, /, **config: Any) -> Any:
    """Create a registered feature extractor."""
    return default_registry().create("feature_extractor", name, **config)


def list_datasets(**filters: Any) -> list[str]:
    """Names of registered data sets."""
    return default_registry().list_names("dataset", **filters)


def load_dataset(name: str, /, **options: Any) -> Any:
    """Create the :class:`~aigc_sdk.interfaces.DatasetProvider` registered as ``name``;
    call ``.load("train")`` / ``.load("test")`` on it for the splits.

    An option the provider does not accept raises a ValueError naming it and listing the
    options it does accept.
    """
    reg = default_registry().get("dataset", name)
    factory = reg.resolve()
    accepted = _accepted_keys(factory)
    unknown = sorted(set(options) - accepted) if accepted is not None else []
    if unknown:
        listed = ", ".join(sorted(accepted or ())) or "none"
        raise ValueError(
            f"data set {name!r} does not accept option(s) {', '.join(map(repr, unknown))}; "
            f"accepted options: {listed}"
        )
    return default_registry().create("dataset", name, **options)


def list_use_cases(**filters: Any) -> list[str]:
    """Names of registered use-cases."""
    return default_registry().list_names("use_case", **filters)


def get_use_case(name: str, /, **config: Any) -> Any:
    """Create a registered use-case."""
    return default_registry().create("use_case", name, **config)


def call_lifecycle_hook(hook_name: str, **kwargs: Any) -> list[HookFailure]:
    """Call a lifecycle hook on every loaded plugin (through pluggy, each one isolated).

    A plugin that raises, ``SystemExit`` included, is quarantined and the others still run;
    the failures are returned so the Trainer can checkpoint and name the plugin. User
    callbacks passed to the Trainer are called by the Trainer itself, so their errors surface;
    installed plugins must not be able to stop someone else's training run.
    """
    _, failures = default_registry().loaded_host().call_hook(hook_name, **kwargs)
    return failures


# --------------------------------------------------------------------------- networks

#: Network kinds and the interface class (in aigc_sdk.interfaces) each factory must return.
NETWORK_KINDS: dict[str, str] = {
    "generator": "Generator",
    "discriminator": "Discriminator",
    "encoder": "Encoder",
    "decoder": "Decoder",
}

#: Keyword arguments every network factory receives from the model that builds it.
NETWORK_ARGS = ("data_shape", "num_classes", "latent_dim")


def _check_network_kind(kind: str) -> None:
    if kind not in NETWORK_KINDS:
        raise ValueError(f"network kind must be one of {sorted(NETWORK_KINDS)}, got {kind!r}")


def list_networks(kind: str, /, **filters: Any) -> list[str]:
    """Names of registered networks of ``kind`` (``"generator"``, ``"discriminator"``,
    ``"encoder"`` or ``"decoder"``), optionally filtered by metadata."""
    _check_network_kind(kind)
    return default_registry().list_names(kind, **filters)


def get_network_registration(kind: str, name: str, /) -> Registration:
    """The registration of network ``name`` of ``kind`` (which plugin provides it, and how)."""
    _check_network_kind(kind)
    return default_registry().get(kind, name)


def _accepted_keys(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names ``factory`` accepts, or ``None`` when it takes ``**kwargs``."""
    import inspect

    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def create_network(
    kind: str,
    name: str,
    /,
    *,
    data_shape: Any,
    num_classes: int | None = None,
    latent_dim: int,
    **config: Any,
) -> Any:
    """Build the registered network ``name`` of ``kind`` for ``data_shape`` / ``num_classes`` /
    ``latent_dim`` with its own keyword ``config``.

    The result is checked: it must be an instance of the kind's interface (e.g.
    :class:`~aigc_sdk.interfaces.Discriminator`) and agree with the requested class count and
    latent size; a config key the factory does not accept is an error naming key and network.
    """
    reg = get_network_registration(kind, name)
    where = f"{kind} {name!r} (plugin {reg.plugin!r}, factory {reg.to_dict()['target']})"
    for key in NETWORK_ARGS:
        if key in config:
            raise ValueError(f"{key} is set by the model for {where}; remove it from the {kind} config")
    factory = reg.resolve()
    accepted = _accepted_keys(factory)
    if accepted is not None:
        missing = [k for k in NETWORK_ARGS if k not in accepted]
        if missing:
            raise TypeError(
                f"{where} must accept the keyword arguments {list(NETWORK_ARGS)}; it lacks {missing}"
            )
        unknown = sorted(set(config) - accepted)
        if unknown:
            options = sorted(accepted - set(NETWORK_ARGS))
            raise ValueError(
                f"{where} does not accept config key(s) {unknown}; "
                f"it accepts: {', '.join(options) or '(none)'}"
            )
    shape = [int(d) for d in data_shape]
    net = factory(data_shape=shape, num_classes=num_classes, latent_dim=latent_dim, **config)
    expected = _interface(NETWORK_KINDS[kind])
    if expected is None or not isinstance(net, expected):
        raise TypeError(
            f"{where} returned {type(net).__module__}.{type(net).__qualname__}, "
            f"expected an aigc_sdk.interfaces.{NETWORK_KINDS[kind]}"
        )
    got_classes = getattr(net, "num_classes", num_classes)
    if got_classes != num_classes:
        raise ValueError(
            f"{where} was asked for num_classes={num_classes} "
            f"but built a network with num_classes={got_classes}"
        )
    got_latent = getattr(net, "latent_dim", latent_dim)
    if kind != "discriminator" and got_latent != latent_dim:
        raise ValueError(
            f"{where} was asked for latent_dim={latent_dim} but built one with latent_dim={got_latent}"
        )
    return net
