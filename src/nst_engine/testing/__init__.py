"""Testing kit for plugin authors, shipped as a pytest plugin (the ``pytest11`` entry point).

Installing napari-nst makes two fixtures available in every pytest run:

- ``nst_host``: an isolated :class:`~nst_engine.plugins.PluginHost` (built-ins only: no
  entry points, ``NST_LOAD_PLUGINS`` / ``NST_DISABLE_PLUGINS`` ignored), installed as the
  process-wide host for one test, so ``nst_engine.create_*``, ``color_transfer`` and the
  ``nst`` command all see it;
- ``nst_register``: ``nst_register(plugin, name=..., version=...)`` adds a plugin module (or
  any object with hook implementations) to that host for one test.

And one-line conformance checks, each raising ``AssertionError`` with what to fix:
:func:`check_color_transfer`, :func:`check_loss`, :func:`check_backbone`,
:func:`check_optimizer` and :func:`check_model`. Each takes a registered name or the callable a plugin registers.

pytest imports this module in every run of every project that has napari-nst installed, so
importing it costs only the package's light core (numpy, pluggy): torch and the rest of the
engine are imported when a fixture or a check is used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from ._color import check_color_transfer
from ._models import check_model
from ._torch import check_backbone, check_loss, check_optimizer

if TYPE_CHECKING:
    from ..plugins import PluginHost, PluginRecord

__all__ = ["nst_host", "nst_register", "check_color_transfer", "check_loss", "check_backbone", "check_optimizer",
           "check_model"]


@pytest.fixture
def nst_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginHost]:
    """A plugin host with the built-ins only, installed process-wide for this test."""
    from ..plugins import PluginHost, set_host

    monkeypatch.delenv("NST_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("NST_DISABLE_PLUGINS", raising=False)
    host = PluginHost(entry_points=False)
    previous = set_host(host)
    try:
        yield host
    finally:
        set_host(previous)


@pytest.fixture
def nst_register(nst_host: PluginHost) -> Iterator[Callable[..., PluginRecord]]:
    """``nst_register(plugin, *, name=None, version=None, strict=True)``: add a plugin for one test.

    ``strict`` fails the test at once when the plugin is refused or one of its ``register``
    calls is (the host would only record the error, as ``nst plugins`` shows it); pass
    ``strict=False`` to test how a broken plugin is reported.
    """
    added: list[str] = []

    def register(plugin: Any, *, name: str | None = None, version: str | None = None,
                 strict: bool = True) -> PluginRecord:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        record = nst_host.add_plugin(plugin, name=name, version=version)
        added.append(name)
        nst_host.plugins()  # runs the register hooks, which is where most mistakes show
        if strict and record.errors:
            raise AssertionError(f"plugin {name} was not registered cleanly: " + "; ".join(record.errors))
        return record

    yield register
    for name in reversed(added):
        nst_host.remove_plugin(name)
