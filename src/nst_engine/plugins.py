"""The plugin host: finds plugins, isolates their failures, and holds what they registered.

pluggy lets one raising implementation abort a whole hook call and does not catch import
errors, so the host loads each entry point on its own and calls each implementation
separately, with a ``register`` bound to the plugin that is calling. The registry vocabulary
(``list_*``, ``create_*``, ``get_*``) works over one process-wide host.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Literal

import pluggy

from . import __version__, hookspecs
from .entries import KINDS, Entry, kind_label, make_entry
from .errors import OptionError, UnknownEntryError

__all__ = [
    "PLUGIN_API_VERSION",
    "DEFAULT_PLUGINS",
    "PluginHost",
    "PluginRecord",
    "PluginProblem",
    "get_host",
    "set_host",
    "get_plugins",
    "get_entry",
    "list_backbones",
    "list_losses",
    "list_optimizers",
    "list_color_transfers",
    "list_models",
    "create_backbone",
    "create_loss",
    "create_optimizer",
    "create_color_transfer",
    "create_model",
]

log = logging.getLogger(__name__)

#: The plugin API this host offers. A plugin may set ``NST_ENGINE_API = "1.0"`` (the oldest
#: API it works with); the host refuses it when the major differs or the minor is newer.
PLUGIN_API_VERSION = "1.1"

ENTRY_POINT_GROUP = "nst_engine"

DEFAULT_PLUGINS = (
    "nst_engine.default_plugins.backbones",
    "nst_engine.default_plugins.losses",
    "nst_engine.default_plugins.optimizers",
    "nst_engine.default_plugins.color_transfers",
    "nst_engine.default_plugins.models",
)


ProblemKind = Literal["load", "register", "commands", "config"]


@dataclass(frozen=True)
class PluginProblem:
    """What went wrong with a plugin: ``load`` (import, API version, hook names),
    ``register`` (a ``register_*`` hook or one of its calls), ``commands``, or ``config``
    (the environment's plugin lists; ``plugin`` is then the variable)."""

    kind: ProblemKind
    plugin: str
    message: str


@dataclass
class PluginRecord:
    """What ``nst plugins`` says about one plugin."""

    name: str
    version: str | None
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    problems: list[PluginProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """The problems' messages, as ``nst plugins`` prints them."""
        return [p.message for p in self.problems]

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "hooks": sorted(self.hooks),
            "provides": {k: sorted(v) for k, v in self.provides.items()},
            "errors": self.errors,
        }


def _env_names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _api_refusal(module: Any) -> str | None:
    wanted = getattr(module, "NST_ENGINE_API", None)
    if wanted is None:
        return None
    try:
        major, minor = (int(p) for p in str(wanted).split(".")[:2])
    except ValueError:
        return f"NST_ENGINE_API = {wanted!r} is not a 'MAJOR.MINOR' version"
    host_major, host_minor = (int(p) for p in PLUGIN_API_VERSION.split("."))
    if major != host_major or minor > host_minor:
        return (
            f"needs plugin API {wanted} but nst_engine offers {PLUGIN_API_VERSION}: "
            "upgrade napari-nst or install an older version of the plugin"
        )
    return None


class PluginHost:
    """One plugin manager and the registries its plugins filled.

    Parameters
    ----------
    entry_points
        Load third-party plugins from the ``nst_engine`` entry-point group. ``NST_LOAD_PLUGINS``
        (comma-separated allow-list; empty means built-ins only) and ``NST_DISABLE_PLUGINS``
        (block-list, built-ins included) narrow what is loaded.
    """

    def __init__(self, *, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        #: Problems that belong to no plugin, such as an allow-list naming none installed.
        self.problems: list[PluginProblem] = []
        self._entries: dict[str, dict[str, Entry]] | None = None
        disabled = _env_names("NST_DISABLE_PLUGINS") or set()
        for module_name in DEFAULT_PLUGINS:
            if module_name in disabled:
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # e.g. an optional dependency of one built-in is missing
                self._problem("load", module_name, __version__, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(module, name=module_name, version=__version__)
        if entry_points:
            self._load_entry_points(_env_names("NST_LOAD_PLUGINS"), disabled)

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, allowed: set[str] | None, disabled: set[str]) -> None:
        installed: set[str] = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            names = {ep.name, ep.dist.name if ep.dist else None} - {None}
            installed |= names
            if names & disabled or (allowed is not None and not names & allowed):
                continue
            version = ep.dist.version if ep.dist else None
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the host down
                self._problem("load", ep.name, version, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(module, name=ep.name, version=version)
        unknown = sorted((allowed or set()) - installed - set(DEFAULT_PLUGINS))
        if unknown:
            problem = PluginProblem(
                "config", "NST_LOAD_PLUGINS",
                f"NST_LOAD_PLUGINS names {', '.join(unknown)}, which no installed plugin is "
                f"(installed: {', '.join(sorted(installed)) or 'none'})",
            )
            self.problems.append(problem)
            log.warning("nst_engine: %s", problem.message)

    def add_plugin(self, plugin: Any, *, name: str, version: str | None = None) -> PluginRecord:
        """Register a plugin object (a module or any object with hook implementations)."""
        record = self.records.setdefault(name, PluginRecord(name, version))
        refusal = _api_refusal(plugin)
        if refusal:
            self._problem("load", name, version, refusal)
            return record
        try:  # refuses an implementation with arguments its hook lacks, or of no hook at all
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._problem("load", name, version, f"invalid hook implementation: {str(exc).splitlines()[0]}")
            return record
        record.hooks = [h.name for h in self.pm.get_hookcallers(plugin) or []]
        self._entries = None
        return record

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and forget what it registered."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.records.pop(name, None)
        self._entries = None

    def _problem(self, kind: ProblemKind, name: str, version: str | None, message: str) -> None:
        record = self.records.setdefault(name, PluginRecord(name, version))
        record.problems.append(PluginProblem(kind, name, message))
        log.warning("nst_engine plugin %s %s: %s", name, version or "", message)

    # -- registries ------------------------------------------------------------------------
    def entries(self, kind: str) -> dict[str, Entry]:
        """All entries of ``kind`` (``backbones``, ``losses``, ...), by name."""
        if self._entries is None:
            self._entries = {}
            for record in self.records.values():
                record.provides = {k: [] for k in KINDS}
                record.problems = [p for p in record.problems if p.kind != "register"]
        if kind not in self._entries:
            self._entries[kind] = self._collect(kind)
        return self._entries[kind]

    def _collect(self, kind: str) -> dict[str, Entry]:
        # One kind at a time: the built-in backbones, losses and optimizers import torch in
        # their hooks, which listing color transfers must not pay for.
        collected: dict[str, Entry] = {}
        hook = getattr(self.pm.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():  # in registration order: built-ins first
            self._call_register_hook(kind, impl, collected)
        return collected

    def _call_register_hook(self, kind: str, impl: Any, into: dict[str, Entry]) -> None:
        record = self.records[impl.plugin_name]
        hook = f"register_{kind}"

        def refuse(message: str) -> None:
            record.problems.append(PluginProblem("register", record.name, f"{hook}: {message}"))

        def register(name: Any, factory: Any, *, description: str = "", **unknown: Any) -> None:
            if unknown:
                refuse(
                    f"{kind_label(kind)} {name!r}: register() takes no keyword "
                    f"{', '.join(map(repr, sorted(unknown)))} in plugin API {PLUGIN_API_VERSION}; "
                    "set NST_ENGINE_API to the API that added it; skipped"
                )
                return
            try:
                entry = make_entry(kind, name, factory, plugin=record.name, plugin_version=record.version,
                                   description=description)
            except OptionError as exc:
                refuse(str(exc))
                return
            if entry.name in into:
                refuse(f"{entry.label} is already registered by {into[entry.name].plugin}; skipped")
                return
            into[entry.name] = entry
            record.provides[kind].append(entry.name)

        try:
            impl.function(register=register)
        except Exception as exc:
            record.problems.append(PluginProblem("register", record.name, f"{hook} raised {type(exc).__name__}: {exc}"))
            log.warning("nst_engine plugin %s: %s raised %r", record.name, hook, exc)

    def get(self, kind: str, name: str) -> Entry:
        """The entry ``name`` of ``kind``; the error lists what is available."""
        entries = self.entries(kind)
        if name not in entries:
            available = ", ".join(sorted(entries)) or "none"
            raise UnknownEntryError(f"no {kind_label(kind)} named {name!r} (available: {available})")
        return entries[name]

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add CLI subcommands; a failing plugin is recorded and skipped."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self._problem("commands", impl.plugin_name, self.records[impl.plugin_name].version,
                              f"register_commands raised {type(exc).__name__}: {exc}")

    def plugins(self) -> list[dict]:
        """Every plugin with its version, hooks, what it provides and its errors."""
        for kind in KINDS:
            self.entries(kind)
        return [r.as_dict() for r in self.records.values()]


# -- the process-wide host and the registry vocabulary ---------------------------------------
_lock = threading.Lock()
_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, created (and entry points loaded) on first use."""
    global _host
    with _lock:
        if _host is None:
            _host = PluginHost()
        return _host


def set_host(host: PluginHost | None) -> PluginHost | None:
    """Swap the process-wide host (``None``: reload on next use); returns the previous one."""
    global _host
    with _lock:
        previous, _host = _host, host
        return previous


def get_plugins() -> list[dict]:
    """Every plugin: name, version, hooks, what it provides and the errors it caused."""
    return get_host().plugins()


def get_entry(kind: str, name: str) -> Entry:
    """The registry entry ``name`` of ``kind``, with its plugin and option schema."""
    return get_host().get(kind, name)


def list_backbones() -> list[str]:
    return sorted(get_host().entries("backbones"))


def list_losses() -> list[str]:
    return sorted(get_host().entries("losses"))


def list_optimizers() -> list[str]:
    return sorted(get_host().entries("optimizers"))


def list_color_transfers() -> list[str]:
    return sorted(get_host().entries("color_transfers"))


def list_models() -> list[str]:
    return sorted(get_host().entries("models"))


def create_backbone(name: str, **options: Any) -> Any:
    """Build the backbone ``name`` with validated ``options``."""
    return get_entry("backbones", name).create(**options)


def create_loss(name: str, **options: Any) -> Any:
    """Build the loss term ``name`` with validated ``options``."""
    return get_entry("losses", name).create(**options)


def create_optimizer(name: str, params: Any, **options: Any) -> Any:
    """Build the optimizer ``name`` over ``params`` with validated ``options``."""
    return get_entry("optimizers", name).create(params, **options)


def create_color_transfer(name: str, **options: Any) -> Callable[..., Any]:
    """The color transfer ``name`` with validated ``options`` bound: ``fn(source, reference)``.

    The call is checked as :func:`nst_engine.color_transfer`'s is: read-only inputs, the
    result's shape, dtype and finiteness, and failures naming the plugin.
    """
    from .transfers import bind_color_transfer  # imported here: transfers imports this module

    return bind_color_transfer(name, **options)


def create_model(name: str, **options: Any) -> Any:
    """Build the feed-forward model ``name`` (an ``nst_engine.models.Model``) with validated ``options``."""
    return get_entry("models", name).create(**options)
