"""The registry API in one vocabulary: ``list_*``, ``create_*``, ``get_*``, over the current host."""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from .plugins import PluginHost
from .registry import Entry

__all__ = [
    "get_host",
    "set_host",
    "get_plugins",
    "get_entry",
    "list_backbones",
    "list_losses",
    "list_optimizers",
    "list_color_transfers",
    "create_backbone",
    "create_loss",
    "create_optimizer",
    "create_color_transfer",
]

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
    """The color transfer ``name`` with validated ``options`` bound: ``fn(source, reference)``."""
    entry = get_entry("color_transfers", name)
    return functools.partial(entry.factory, **entry.bind(options))
