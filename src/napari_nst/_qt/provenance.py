"""The Provenance dock widget: the active layer's ``metadata["nst"]`` as JSON, to read, copy or save.

A result's provenance (backbone, losses, options, seed, timings, input layers) is what makes
it reproducible, but napari shows layer metadata nowhere. This view follows the active layer
and its metadata, so it is current when a run finishes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import napari
from magicgui.widgets import Label, PushButton, TextEdit
from qtpy.QtGui import QFontDatabase
from qtpy.QtWidgets import QApplication, QFileDialog

from nst_engine.errors import NstError
from nst_engine.files import atomic_write

from ._common import notify_error
from ._panel import Panel

__all__ = ["ProvenanceWidget", "provenance_text"]


def provenance_text(layer: Any) -> str | None:
    """``layer.metadata["nst"]`` as indented JSON, or ``None`` when the layer has none."""
    nst = None if layer is None else dict(layer.metadata).get("nst")
    return json.dumps(nst, indent=2, default=str, ensure_ascii=False) if nst else None


class ProvenanceWidget(Panel):
    """Shows, copies and saves the provenance of the active layer."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self._layer: Any = None
        self.layer_name = Label(name="layer_name", value="")
        self.layer_name.tooltip = "the active layer (select another in the layer list)"
        self.text = TextEdit(name="text", value="")
        self.text.read_only = True
        self.text.tooltip = 'the layer\'s metadata["nst"]: how napari-nst made it'
        self.text.native.setMinimumHeight(120)
        self.text.native.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = PushButton(name="copy", text="Copy")
        self.copy_button.tooltip = "copy the provenance JSON to the clipboard"
        self.save_button = PushButton(name="save", text="Save…")
        self.save_button.tooltip = "save the provenance as a JSON file"
        super().__init__([self.layer_name, self.text], [self.copy_button, self.save_button])
        self.copy_button.changed.connect(self.copy)
        self.save_button.changed.connect(self._ask_and_save)
        viewer.layers.selection.events.active.connect(self._follow)
        self._follow()

    def _follow(self, *_: Any) -> None:
        """Watch the newly active layer's metadata and show it."""
        if self._layer is not None:
            self._layer.events.metadata.disconnect(self.refresh)
            self._layer.events.name.disconnect(self.refresh)
        self._layer = self._viewer.layers.selection.active
        if self._layer is not None:
            self._layer.events.metadata.connect(self.refresh)
            self._layer.events.name.connect(self.refresh)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        """Show the active layer's provenance, or say plainly why there is none."""
        layer = self._layer
        text = provenance_text(layer)
        self.layer_name.value = "no active layer" if layer is None else f"layer: {layer.name}"
        self.text.value = text or ""
        self.copy_button.enabled = self.save_button.enabled = text is not None
        if layer is None:
            self.status.value = "select a layer to see its provenance"
        elif text is None:
            self.status.value = f'{layer.name} has no provenance: metadata["nst"] is set only on layers napari-nst made'
        else:
            self.status.value = ""

    def copy(self, *_: Any) -> None:
        """Put the provenance JSON on the clipboard."""
        text = provenance_text(self._layer)
        if text is not None:
            QApplication.clipboard().setText(text)
            self.status.value = "provenance copied to the clipboard"

    def save(self, path: str | Path) -> Path | None:
        """Write the provenance JSON to ``path`` atomically; an error goes to the status line."""
        text = provenance_text(self._layer)
        if text is None:
            return None
        target = Path(path)
        try:
            atomic_write(target, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
        except (NstError, OSError) as exc:
            message = f"Provenance not saved: {exc}"
            self.status.show_error(message)
            notify_error(message)
            return None
        self.status.value = f"provenance saved to {target}"
        return target

    def _ask_and_save(self, *_: Any) -> None:
        name = f"{self._layer.name}.json" if self._layer is not None else "provenance.json"
        path, _ = QFileDialog.getSaveFileName(self.native, "Save provenance", name, "JSON (*.json)")
        if path:
            self.save(path)
