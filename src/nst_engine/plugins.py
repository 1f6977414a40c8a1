"""The plugin host: finds plugins, isolates their failures, and holds what they registered.

pluggy lets one raising implementation abort a whole hook call and does not catch import
errors, so the host loads each entry point on its own and calls each implementation
separately, with a ``register`` bound to the plugin that is calling.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import OptionError, UnknownEntryError
from .registry import KINDS, Entry, kind_label, make_entry

__all__ = ["PLUGIN_API_VERSION", "PluginHost", "PluginRecord", "DEFAULT_PLUGINS"]

log = logging.getLogger(__name__)

#: The plugin API this host offers. A plugin may set ``NST_ENGINE_API = "1.0"`` (the oldest
#: API it works with); the host refuses it when the major differs or the minor is newer.
PLUGIN_API_VERSION = "1.0"

ENTRY_POINT_GROUP = "nst_engine"

DEFAULT_PLUGINS = (
    "nst_engine.default_plugins.backbones",
    "nst_engine.default_plugins.losses",
    "nst_engine.default_plugins.optimizers",
    "nst_engine.default_plugins.color_transfers",
)


_REGISTER_HOOKS = tuple(f"register_{kind}" for kind in KINDS)


@dataclass
class PluginRecord:
    """What ``nst plugins`` says about one plugin."""

    name: str
    version: str | None
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "hooks": sorted(self.hooks),
            "provides": {k: sorted(v) for k, v in self.provides.items()},
            "errors": list(self.errors),
        }


def _env_names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _engine_version() -> str:
    from . import __version__

    return __version__


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
        self._entries: dict[str, dict[str, Entry]] | None = None
        disabled = _env_names("NST_DISABLE_PLUGINS") or set()
        for module_name in DEFAULT_PLUGINS:
            if module_name in disabled:
                continue
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # e.g. an optional dependency of one built-in is missing
                self._fail(module_name, _engine_version(), f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(module, name=module_name, version=_engine_version())
        if entry_points:
            self._load_entry_points(_env_names("NST_LOAD_PLUGINS"), disabled)

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, allowed: set[str] | None, disabled: set[str]) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else None
            names = {ep.name, dist} - {None}
            if names & disabled or (allowed is not None and not names & allowed):
                continue
            version = ep.dist.version if ep.dist else None
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the host down
                self._fail(ep.name, version, f"import failed: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(module, name=ep.name, version=version)

    def add_plugin(self, plugin: Any, *, name: str, version: str | None = None) -> PluginRecord:
        """Register a plugin object (a module or any object with hook implementations)."""
        record = self.records.setdefault(name, PluginRecord(name, version))
        refusal = _api_refusal(plugin)
        if refusal:
            self._fail(name, version, refusal)
            return record
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # e.g. a hook implementation whose arguments the spec lacks
            self._fail(name, version, f"invalid hook implementation: {str(exc).splitlines()[0]}")
            return record
        try:
            self.pm.check_pending()
        except Exception as exc:  # an implementation of a hook that does not exist
            self.pm.unregister(plugin)
            self._fail(name, version, f"invalid hook implementation: {str(exc).splitlines()[0]}")
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

    def _fail(self, name: str, version: str | None, message: str) -> None:
        record = self.records.setdefault(name, PluginRecord(name, version))
        record.errors.append(message)
        log.warning("nst_engine plugin %s %s: %s", name, version or "", message)

    # -- registries ------------------------------------------------------------------------
    def entries(self, kind: str) -> dict[str, Entry]:
        """All entries of ``kind`` (``backbones``, ``losses``, ...), by name."""
        if self._entries is None:
            self._entries = self._collect()
        return self._entries[kind]

    def _collect(self) -> dict[str, dict[str, Entry]]:
        for record in self.records.values():
            record.provides = {k: [] for k in KINDS}
            record.errors = [e for e in record.errors if not e.startswith(_REGISTER_HOOKS)]
        collected: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        for kind in KINDS:
            hook = getattr(self.pm.hook, f"register_{kind}")
            for impl in hook.get_hookimpls():  # in registration order: built-ins first
                self._call_register_hook(kind, impl, collected[kind])
        return collected

    def _call_register_hook(self, kind: str, impl: Any, into: dict[str, Entry]) -> None:
        record = self.records[impl.plugin_name]
        label = f"register_{kind}"

        def register(name: Any, factory: Any, **kwargs: Any) -> None:
            try:
                entry = make_entry(
                    kind, name, factory, plugin=record.name, plugin_version=record.version, **kwargs
                )
            except OptionError as exc:
                record.errors.append(f"{label}: {exc}")
                return
            if entry.name in into:
                other = into[entry.name].plugin
                record.errors.append(
                    f"{label}: {kind_label(kind)} {entry.name!r} is already registered by {other}; skipped"
                )
                return
            into[entry.name] = entry
            record.provides[kind].append(entry.name)

        try:
            impl.function(register=register)
        except Exception as exc:
            record.errors.append(f"{label} raised {type(exc).__name__}: {exc}")
            log.warning("nst_engine plugin %s: %s raised %r", record.name, label, exc)

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
                self.records[impl.plugin_name].errors.append(f"register_commands raised {type(exc).__name__}: {exc}")

    def plugins(self) -> list[dict]:
        """Every plugin with its version, hooks, what it provides and its errors."""
        for kind in KINDS:
            self.entries(kind)
        return [r.as_dict() for r in self.records.values()]
