"""napari-nst: the napari plugin over :mod:`nst_engine` (layers in, layers out, nothing numerical).

The widgets live in the private ``_qt`` package and are imported lazily: napari imports this
package only to find ``napari.yaml``, and torch should not load before a widget opens.
"""

from __future__ import annotations

from typing import Any

from nst_engine import __version__  # one distribution, one version

__all__ = ["__version__", "StyleTransferWidget", "ColorTransferWidget", "EvaluateWidget"]

_WIDGETS = {
    "StyleTransferWidget": "napari_nst._qt.style_transfer",
    "ColorTransferWidget": "napari_nst._qt.color_transfer",
    "EvaluateWidget": "napari_nst._qt.evaluate",
}


def __getattr__(name: str) -> Any:
    if name in _WIDGETS:
        import importlib

        return getattr(importlib.import_module(_WIDGETS[name]), name)
    raise AttributeError(f"module 'napari_nst' has no attribute {name!r}")
