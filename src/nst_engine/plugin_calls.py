"""Calling a plugin's loss, backbone or optimizer so that its failures name it, in one line.

A plugin's exception deep inside a run would otherwise surface as torch's message, or as a
traceback through the engine, with nothing saying whose code failed. Built-in entries are
left alone: their errors are the engine's own bugs or verdicts and keep their traceback.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from .cancellation import Cancelled
from .entries import Entry
from .errors import NstError, PluginError

__all__ = ["is_builtin", "blamed"]

_BUILTIN = "nst_engine."


def is_builtin(plugin: str) -> bool:
    """Whether ``plugin`` is one of the engine's default plugins."""
    return plugin.startswith(_BUILTIN)


@contextmanager
def blamed(entry: Entry, doing: str) -> Iterator[None]:
    """Re-raise ``entry``'s exception as a one-line :class:`PluginError` naming it and ``doing``.

    Cancellation, the engine's own errors and running out of memory pass through unchanged:
    they are not the plugin's fault, and their handlers downstream rely on their types.
    """
    try:
        yield
    except (NstError, Cancelled, MemoryError):
        raise
    except Exception as exc:
        if is_builtin(entry.plugin) or "out of memory" in str(exc):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PluginError(
            f"{entry.origin} failed {doing}: {type(exc).__name__}"
            + (f": {message}" if message else "")
        ) from exc
