"""The Color Transfer widget: apply one method, compare all of them, stacks, failures."""

from __future__ import annotations

import numpy as np
import pytest

from napari_nst._qt.color_transfer import ColorTransferWidget
from nst_engine import list_color_transfers

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(images, dock) -> ColorTransferWidget:
    content, style = images
    widget = dock("Color Transfer")
    widget.source.value = content
    widget.reference.value = style
    return widget


def test_apply_adds_a_layer_with_provenance(viewer, images, widget, wait_idle) -> None:
    content, _ = images
    before = content.data.copy()
    widget.method.value = "idt"
    widget.method.form()["iterations"].value = 3
    widget.apply()
    wait_idle(widget)
    layer = viewer.layers[-1]
    assert layer.name == "content [idt]" and layer.rgb and layer.data.shape == content.data.shape
    np.testing.assert_allclose(layer.scale, content.scale)
    np.testing.assert_allclose(layer.translate, content.translate)
    nst = layer.metadata["nst"]
    assert nst["method"] == "idt" and nst["options"]["iterations"] == 3 and nst["napari"]["reference_layer"] == "style"
    np.testing.assert_array_equal(content.data, before)
    assert not widget.table.visible


def test_compare_all_adds_a_layer_per_method_and_a_table(viewer, widget, wait_idle) -> None:
    widget.compare_all()
    wait_idle(widget)
    methods = list_color_transfers()
    assert {f"content [{m}]" for m in methods} <= {layer.name for layer in viewer.layers}
    rows = {row["method"]: row for row in widget.table_rows()}
    assert set(rows) == set(methods)
    for row in rows.values():
        assert all(isinstance(row[c], float) and row[c] >= 0 for c in ("KL R", "KL G", "KL B"))
        assert -1 <= row["SSIM"] <= 1 and row["time (s)"] >= 0
    assert rows["histogram"]["KL R"] < rows["reinhard"]["KL R"]  # exact marginals beat moments
    assert not widget.table.native.isHidden()


def test_all_planes_of_a_gray_stack(viewer, images, dock, wait_idle) -> None:
    _, style = images
    stack = viewer.add_image(np.random.default_rng(3).random((2, 20, 24)).astype(np.float32), name="stack")
    widget = dock("Color Transfer")
    widget.source.value, widget.reference.value = stack, style
    widget.planes.value = "all planes"
    widget.apply()
    wait_idle(widget)
    layer = viewer.layers[-1]
    assert layer.data.shape == (2, 20, 24) and not layer.rgb
    assert layer.metadata["nst"]["napari"]["source_planes"] == "all"


def test_failure_notifies_and_keeps_inputs(viewer, images, widget, wait_idle, notifications) -> None:
    content, _ = images
    before = content.data.copy()
    holes = np.random.default_rng(4).random((20, 20)).astype(np.float32)
    holes[3, 4] = np.nan
    widget.reference.value = viewer.add_image(holes, name="holes", contrast_limits=(0.0, 1.0))
    widget.apply()
    wait_idle(widget)
    assert "Color transfer failed" in notifications.errors()[-1] and "NaN" in notifications.errors()[-1]
    np.testing.assert_array_equal(content.data, before)
    assert widget.status.value.startswith("failed") and widget.apply_button.enabled


def test_missing_layers_notify_at_once(viewer, dock, notifications) -> None:
    widget = dock("Color Transfer")
    assert widget.apply() is None
    assert "choose a source and a reference" in notifications.errors()[-1]
