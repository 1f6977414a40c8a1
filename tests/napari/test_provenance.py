"""The Provenance widget: the active layer's metadata["nst"] as JSON, copied and saved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtWidgets import QApplication

from napari_nst._qt.provenance import ProvenanceWidget

pytestmark = pytest.mark.gui

NST = {"backbone": {"name": "random-multiscale"}, "steps": 4, "napari": {"content_layer": "content", "state": "done"}}


@pytest.fixture
def widget(viewer, images, dock) -> ProvenanceWidget:
    content, _ = images
    viewer.add_image(np.asarray(content.data, np.float32) / 255, name="result", rgb=True, metadata={"nst": NST})
    return dock("Provenance")


def test_it_shows_the_active_layers_provenance(viewer, widget) -> None:
    assert viewer.layers.selection.active.name == "result"  # the layer added last
    assert json.loads(widget.text.value) == NST and "result" in widget.layer_name.value
    assert widget.copy_button.enabled and widget.save_button.enabled


def test_it_follows_the_active_layer_and_says_when_there_is_none(viewer, widget) -> None:
    viewer.layers.selection.active = viewer.layers["content"]
    assert widget.text.value == "" and "content has no provenance" in widget.status.value
    assert not widget.copy_button.enabled
    viewer.layers.selection.active = viewer.layers["result"]
    assert json.loads(widget.text.value) == NST
    viewer.layers.selection.clear()
    assert "select a layer" in widget.status.value


def test_it_updates_when_a_run_writes_the_metadata(viewer, widget) -> None:
    layer = viewer.layers["result"]
    layer.metadata = {**dict(layer.metadata), "nst": {**NST, "steps": 8}}
    assert json.loads(widget.text.value)["steps"] == 8


def test_copy_puts_the_json_on_the_clipboard(widget) -> None:
    widget.copy_button.changed.emit(True)
    assert json.loads(QApplication.clipboard().text()) == NST
    assert "copied" in widget.status.value


def test_save_writes_the_json_and_reports_a_bad_folder(widget, tmp_path: Path, notifications) -> None:
    path = widget.save(tmp_path / "result.json")
    assert json.loads(path.read_text()) == NST and str(path) in widget.status.value
    assert widget.save(tmp_path / "missing" / "result.json") is None
    assert widget.status.is_error and "Provenance not saved" in notifications.errors()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
