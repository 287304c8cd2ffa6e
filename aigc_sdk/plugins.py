"""Plugin manager: discovery through the ``aigc_sdk`` entry-point group, lazy and
fault-isolated loading, allow/block lists, API-version checks and quarantine.

Nothing here imports torch. A plugin that fails to import, declares an incompatible API
range, implements a hook that does not exist, or raises while registering is *quarantined*:
its error and traceback are kept and reported (``aigc plugins``, ``aigc doctor``) and every
other plugin keeps working.

Every hook is called through pluggy itself (:meth:`PluginHost.call_hook`), so ``tryfirst`` /
``trylast``, ``wrapper`` / ``hookwrapper`` implementations and ``firstresult`` behave exactly
as in pytest. Fault isolation comes from guarding each implementation when its plugin is
registered: an implementation that raises (``SystemExit`` included) contributes no result,
the call goes on with the others, and its plugin is quarantined when the call returns.

Environment variables:

``AIGC_SDK_PLUGINS=a,b``          load only these plugins (entry-point or distribution names)
``AIGC_SDK_DISABLE_PLUGINS=a,b``  never load these
``AIGC_SDK_TRACE_PLUGINS=1``      log every hook call (logger ``aigc_sdk.plugins``)

Names compare case-insensitively with ``-`` and ``_`` alike, empty values count as unset, and
names that match no installed plugin are warned about (see :mod:`aigc_sdk.env`).
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import functools
import importlib.metadata as md
import logging
import traceback
from collections.abc import Callable, Generator
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
    #: kind -> name -> one-line summary (``command`` holds the sub-commands' help)
    summaries: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

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


#: The plugin whose hook implementation is running (None outside hook calls).
_running_plugin: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aigc_sdk_running_plugin", default=None
)


def running_plugin() -> str | None:
    """Name of the plugin whose hook implementation is running right now, or None.

    Registration callables use it to attribute what they receive to the plugin that gave it.
    """
    return _running_plugin.get()


@dataclasses.dataclass
class HookFailure:
    """One hook implementation that raised during a :meth:`PluginHost.call_hook` call."""

    plugin: str
    hook: str
    error: BaseException

    def describe(self) -> str:
        """One line naming the plugin, the hook and the error."""
        return f"plugin {self.plugin!r} raised {type(self.error).__name__}: {self.error} in {self.hook}"


def _contained(exc: BaseException) -> bool:
    """Whether an exception from plugin code is the plugin's failure rather than the user's.

    Everything is, except a Ctrl-C the user pressed: that must still stop the program.
    """
    return not isinstance(exc, KeyboardInterrupt) or not user_interrupted()


_user_interrupts = 0


def note_user_interrupt() -> None:
    """Record that the user pressed Ctrl-C (the ``aigc`` command's SIGINT handler calls this),
    so a ``KeyboardInterrupt`` raised by plugin code on its own is told apart from a real one."""
    global _user_interrupts
    _user_interrupts += 1


def user_interrupted() -> bool:
    """True unless the ``aigc`` command is running and no Ctrl-C has been pressed yet.

    Outside the command (notebooks, scripts) every KeyboardInterrupt counts as the user's.
    """
    import signal

    handler = signal.getsignal(signal.SIGINT)
    return _user_interrupts > 0 or getattr(handler, "__aigc_sdk_marks_interrupts__", False) is not True


class PluginValidationError(Exception):
    """A plugin's hook implementations do not match the hook specs."""


class PluginHost:
    """Owns the pluggy manager and the record of every plugin seen."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._loaded = False
        self._failures: list[HookFailure] | None = None  # collects failures during call_hook
        self.trace = env_flag("AIGC_SDK_TRACE_PLUGINS")  # log every implementation called

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
        except Exception as exc:  # pluggy's validation: wrong arguments, bad wrapper, ...
            self._quarantine(info, "register", exc)
            return info
        callers = self.pm.get_hookcallers(plugin) or []
        info.hooks = sorted(h.name for h in callers)
        unknown = self._unknown_hooks(plugin)
        if unknown:
            self.quarantine(info.name, "validate", PluginValidationError(unknown))
            return info
        for caller in callers:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    # pluggy calls impl.function; swapping it once, before any call, is what
                    # isolates this implementation while pluggy keeps ordering and wrappers.
                    setattr(impl, "function", self._guard(info.name, caller.name, impl))  # noqa: B010
        return info

    def _unknown_hooks(self, plugin: Any) -> str | None:
        """Why the plugin's implementations do not match the hook specs (misspelt hook names)."""
        problems = []
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is not None:
                continue
            if all(i.optionalhook for i in caller.get_hookimpls() if i.plugin is plugin):
                continue
            close = difflib.get_close_matches(caller.name, hookspecs.hook_names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{caller.name!r}{hint}")
        if not problems:
            return None
        return (
            f"implements {', '.join(problems)}, which {'is' if len(problems) == 1 else 'are'} not "
            "aigc_sdk hooks; mark a deliberate extra with @hookimpl(optionalhook=True)"
        )

    # ------------------------------------------------------------------ calling hooks
    def call_hook(self, hook_name: str, **kwargs: Any) -> tuple[Any, list[HookFailure]]:
        """Call ``hook_name`` through pluggy with each implementation isolated.

        Returns pluggy's result (a list, or one value for ``firstresult`` hooks) without the
        failed implementations' contributions, and the failures. Every plugin that failed is
        quarantined (unregistered) before this returns.
        """
        outer, self._failures = self._failures, []
        try:
            result = getattr(self.pm.hook, hook_name)(**kwargs)
        finally:
            failures, self._failures = self._failures, outer
        for failure in failures:
            if failure.plugin in self.plugins and self.plugins[failure.plugin].status == "loaded":
                self.quarantine(failure.plugin, failure.hook, failure.error)
        return result, failures

    def _failed(self, plugin: str, hook: str, exc: BaseException) -> None:
        failure = HookFailure(plugin, hook, exc)
        if self._failures is not None:
            self._failures.append(failure)
        else:  # called through pm.hook directly: quarantine at once
            self.quarantine(plugin, hook, exc)

    def _guard(self, plugin: str, hook: str, impl: Any) -> Callable[..., Any]:
        """Wrap one implementation so that its failure is recorded instead of raised."""
        function = impl.function
        if impl.wrapper:
            return self._guard_wrapper(plugin, hook, function)
        if impl.hookwrapper:
            return self._guard_old_wrapper(plugin, hook, function)

        @functools.wraps(function)
        def guarded(*args: Any) -> Any:
            token = _running_plugin.set(plugin)
            if self.trace:
                log.warning("trace: %s(%s)", hook, plugin)
            try:
                return function(*args)
            except BaseException as exc:
                if not _contained(exc):
                    raise
                self._failed(plugin, hook, exc)
                return None  # pluggy leaves None out of the results
            finally:
                _running_plugin.reset(token)

        return guarded

    def _run_as(self, plugin: str, fn: Callable[[], Any]) -> Any:
        """Run one step of a plugin's code with :func:`running_plugin` naming it."""
        token = _running_plugin.set(plugin)
        try:
            return fn()
        finally:
            _running_plugin.reset(token)

    def _start_wrapper(
        self, plugin: str, hook: str, function: Callable[..., Any], args: tuple[Any, ...], kind: str
    ) -> Generator[None, Any, Any] | None:
        """Run a wrapper implementation up to its ``yield``; None (and the failure recorded) if it raised."""
        if self.trace:
            log.warning("trace: %s(%s) [%s]", hook, plugin, kind)
        try:
            gen = self._run_as(plugin, lambda: function(*args))
            self._run_as(plugin, lambda: next(gen))
        except BaseException as exc:
            if not _contained(exc):
                raise
            self._failed(plugin, hook, exc)
            return None
        return gen

    def _guard_wrapper(self, plugin: str, hook: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Guard a new-style ``wrapper=True`` implementation: a failing wrapper becomes a
        pass-through, and the result (or error) of the inner calls goes on unchanged."""

        def guarded(*args: Any) -> Generator[None, Any, Any]:
            gen = self._start_wrapper(plugin, hook, function, args, "wrapper")
            if gen is None:
                return (yield)  # failed before its yield: pass the inner result through
            try:
                inner = yield
            except BaseException as inner_exc:
                try:
                    self._run_as(plugin, functools.partial(gen.throw, inner_exc))
                except StopIteration as stop:
                    return stop.value  # the wrapper turned the error into a result
                except BaseException as exc:
                    if exc is inner_exc or not _contained(exc):
                        raise
                    self._failed(plugin, hook, exc)
                    raise inner_exc from None
                gen.close()
                self._failed(plugin, hook, RuntimeError("wrapper yielded more than once"))
                raise
            try:
                self._run_as(plugin, lambda: gen.send(inner))
            except StopIteration as stop:
                return stop.value
            except BaseException as exc:
                if not _contained(exc):
                    raise
                self._failed(plugin, hook, exc)
                return inner
            gen.close()
            self._failed(plugin, hook, RuntimeError("wrapper yielded more than once"))
            return inner

        return guarded

    def _guard_old_wrapper(self, plugin: str, hook: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Guard an old-style ``hookwrapper=True`` implementation (it sees a pluggy Result)."""

        def guarded(*args: Any) -> Generator[None, Any, None]:
            gen = self._start_wrapper(plugin, hook, function, args, "hookwrapper")
            if gen is None:
                yield  # failed before its yield: let the inner calls run unchanged
                return
            outcome = yield
            try:
                self._run_as(plugin, lambda: gen.send(outcome))
            except StopIteration:
                return
            except BaseException as exc:
                if not _contained(exc):
                    raise
                self._failed(plugin, hook, exc)
                return
            gen.close()
            self._failed(plugin, hook, RuntimeError("hookwrapper yielded more than once"))

        return guarded

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
