"""Calling a registered color transfer safely: inputs protected, outputs checked.

A plugin's transfer gets read-only views of the caller's arrays (so it cannot modify them)
and its result is checked for shape, dtype and finiteness; a failure names the plugin.
:func:`bind_color_transfer` is the same call with its options bound once, for callers
that recolour many images (``nst_engine.create_color_transfer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .entries import Entry
from .errors import NstError, PluginError
from .images import read_only
from .plugins import get_entry

__all__ = ["color_transfer", "call_color_transfer", "bind_color_transfer", "BoundColorTransfer", "all_options"]



def call_color_transfer(
    entry: Entry,
    source: np.ndarray,
    reference: np.ndarray,
    options: dict[str, Any],
    *,
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Run ``entry`` with already-bound ``options``; raise :class:`PluginError` if it misbehaves."""
    source, reference = np.asarray(source), np.asarray(reference)
    masks = {"source_mask": source_mask, "reference_mask": reference_mask}
    accepted = entry.arrays
    for name, mask in masks.items():
        if mask is not None and name not in accepted:
            raise NstError(f"{entry.origin} does not take {name}; use a transfer that supports masks")
    kwargs = {name: read_only(mask) for name, mask in masks.items() if name in accepted}
    try:
        result = entry.factory(read_only(source), read_only(reference), **kwargs, **options)
    except Exception as exc:
        if isinstance(exc, NstError) or entry.plugin.startswith("nst_engine."):
            raise  # the engine's own verdict on the input: the message already names the fix
        raise PluginError(f"{entry.origin} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(result, np.ndarray):
        raise PluginError(f"{entry.origin} returned {type(result).__name__}, not a numpy array")
    if result.shape != source.shape or result.dtype != source.dtype:
        raise PluginError(
            f"{entry.origin} returned {result.dtype} {result.shape} for a {source.dtype} "
            f"{source.shape} source; a transfer must keep the source's shape and dtype"
        )
    if np.issubdtype(result.dtype, np.floating) and not np.isfinite(result).all():
        raise PluginError(f"{entry.origin} returned NaN or Inf values")
    return result


def color_transfer(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    method: str = "histogram",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
    **options: Any,
) -> np.ndarray:
    """Recolour ``source`` with ``reference``'s colors by the registered transfer ``method``.

    ``options`` are the transfer's own (strings are parsed, values checked against its
    signature); masks limit which pixels the statistics come from. The result has the
    source's shape and dtype; the inputs are never modified.
    """
    entry = get_entry("color_transfers", method)
    return call_color_transfer(entry, source, reference, entry.bind(options),
                               source_mask=source_mask, reference_mask=reference_mask)


def all_options(entry: Entry, options: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``entry``: the schema's defaults, overridden by bound ``options``.

    What provenance records, so that a result can be reproduced when a default changes.
    """
    return {**entry.defaults(), **options}


@dataclass(frozen=True)
class BoundColorTransfer:
    """A registered color transfer with validated options: ``fn(source, reference)``, checked
    as :func:`color_transfer` is (read-only inputs; shape, dtype, finiteness; the plugin named)."""

    entry: Entry
    #: Every option, defaults included (:func:`all_options`).
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(
        self,
        source: np.ndarray,
        reference: np.ndarray,
        *,
        source_mask: np.ndarray | None = None,
        reference_mask: np.ndarray | None = None,
    ) -> np.ndarray:
        return call_color_transfer(self.entry, source, reference, self.options,
                                   source_mask=source_mask, reference_mask=reference_mask)

    def provenance(self, *, seconds: float, **inputs: Any) -> dict[str, Any]:
        """What a result of this transfer records: the transfer, its plugin and version, every
        option, the ``inputs`` it was given (file names) and how long it took."""
        entry = self.entry
        return {"kind": "color_transfer", "method": entry.name, "plugin": entry.plugin,
                "version": entry.plugin_version, "options": self.options, **inputs, "seconds": round(seconds, 4)}


def bind_color_transfer(method: str, /, **options: Any) -> BoundColorTransfer:
    """The registered transfer ``method`` with ``options`` validated now and bound, checked on
    every call; ``.options`` holds every option, defaults included."""
    entry = get_entry("color_transfers", method)
    return BoundColorTransfer(entry, all_options(entry, entry.bind(options)))
