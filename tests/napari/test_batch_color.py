"""Color Transfer's Apply to every selected layer, through the batch API on a local cluster."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _every_selected(widget):
    widget.reset_choices()
    widget.source.value = widget.source.choices[-1]
    assert repr(widget.source.value) == "every selected layer"


def test_apply_to_every_selected_layer(viewer, images, dock, wait_idle) -> None:
    content, style = images
    stack = viewer.add_image(np.random.default_rng(6).integers(0, 255, (2, 24, 30, 3), np.uint8), name="stack",
                             rgb=True)
    before = stack.data.copy()
    viewer.layers.selection = {content, stack, style}
    widget = dock("Color Transfer")
    widget.reference.value = style
    _every_selected(widget)
    widget.planes.value = "all planes"
    widget.method.value = "reinhard"
    widget.apply()
    assert widget.running and not widget.apply_button.enabled and not widget.compare_button.enabled
    wait_idle(widget, timeout=180)
    assert widget.status.value.startswith("done: content [reinhard], stack [reinhard]"), widget.status.value
    recoloured, stacked = viewer.layers[-2:]
    assert recoloured.data.shape == content.data.shape and stacked.data.shape == stack.data.shape
    assert stacked.data.reshape(2, -1).any(axis=1).all()
    nst = stacked.metadata["nst"]
    assert nst["kind"] == "color_transfer" and nst["method"] == "reinhard" and nst["batch"]["workers"] >= 1
    assert nst["napari"]["source_layer"] == "stack" and nst["napari"]["source_planes"] == "all"
    assert nst["napari"]["reference_layer"] == "style" and [p["index"] for p in nst["planes"]] == [[0], [1]]
    np.testing.assert_array_equal(stack.data, before)
    assert widget.apply_button.enabled


def test_compare_all_takes_one_source(viewer, images, dock) -> None:
    content, _ = images
    viewer.layers.selection = {content}
    widget = dock("Color Transfer")
    _every_selected(widget)
    assert widget.compare_all() is None
    assert widget.status.is_error and "Compare all takes one source layer" in widget.status.value
