"""Compare all: one layer with a method axis, a table in its order, Keep one method."""

from __future__ import annotations

import re

import numpy as np
import pytest
from qtpy.QtCore import QLocale, Qt

from napari_nst._color_jobs import ColorOutcome
from napari_nst._qt.color_compare import TABLE_COLUMNS, table_cells
from nst_engine import list_color_transfers

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(images, dock):
    content, style = images
    widget = dock("Color Transfer")
    widget.source.value = content
    widget.reference.value = style
    return widget


def _compare(viewer, widget, wait_idle) -> list:
    """Compare all and wait; the layers added meanwhile."""
    added = []
    viewer.layers.events.inserted.connect(lambda event: added.append(event.value))
    assert widget.compare_all() is not None
    assert not widget.progress.native.isHidden() and widget.progress.max == len(list_color_transfers())
    wait_idle(widget)
    assert widget.progress.native.isHidden()
    return added


def test_compare_all_adds_one_layer_with_a_method_axis(viewer, images, widget, wait_idle) -> None:
    content, _ = images
    widget.method.value = "pca"
    added = _compare(viewer, widget, wait_idle)
    methods = list_color_transfers()
    assert len(added) == 1  # one layer, added at the end: never one per method
    layer = added[0]
    assert layer.name == "content [compare all]" and layer.data.shape == (len(methods), *content.data.shape)
    assert layer.axis_labels[0] == "method" and viewer.dims.axis_labels[0] == "method"
    np.testing.assert_allclose(layer.scale, (1.0, *content.scale))
    np.testing.assert_allclose(layer.translate, (0.0, *content.translate))
    assert layer.metadata["nst"]["methods"] == methods == [row["method"] for row in widget.table_rows()]
    assert widget.comparison.position() == methods.index("pca")  # the slider starts at the chosen method
    assert widget.table.native.currentRow() == methods.index("pca")
    rows = {row["method"]: row for row in widget.table_rows()}
    for row in rows.values():
        assert all(isinstance(row[c], float) and row[c] >= 0 for c in ("KL R", "KL G", "KL B"))
        assert -1 <= row["SSIM"] <= 1 and row["time (s)"] >= 0
    assert rows["histogram"]["KL R"] < rows["reinhard"]["KL R"]  # exact marginals beat moments
    assert not widget.table.native.isHidden() and widget.keep_button.enabled
    assert "compared" in widget.status.value
    viewer.dims.set_current_step(0, 2)  # moving the slider chooses the row
    assert widget.table.native.currentRow() == 2 == widget.comparison.position()


def test_the_table_uses_one_format_per_column(viewer, widget, wait_idle) -> None:
    _compare(viewer, widget, wait_idle)
    formats = {
        "KL R": r"\d\.\d{3}e[+-]\d{2}", "KL G": r"\d\.\d{3}e[+-]\d{2}", "KL B": r"\d\.\d{3}e[+-]\d{2}",
        "SSIM": r"-?\d\.\d{4}", "time (s)": r"\d+\.\d{2}",
    }
    native = widget.table.native
    assert native.rowCount() == len(list_color_transfers())
    for row in range(native.rowCount()):
        for column, name in enumerate(TABLE_COLUMNS):
            item = native.item(row, column)
            shown = native.itemDelegate().displayText(item.data(Qt.ItemDataRole.DisplayRole), QLocale())
            assert re.fullmatch(formats[name], shown), (name, shown)


def test_gray_kl_fills_every_channel_column() -> None:
    outcome = ColorOutcome("m", {}, "p", None, np.zeros((2, 2)), 0.1234, {"gray": 4e-4}, 0.5)
    assert table_cells(outcome) == ["4.000e-04"] * 3 + ["0.5000", "0.12"]


def test_keep_makes_the_chosen_row_a_layer_and_discards_the_comparison(viewer, images, widget, wait_idle) -> None:
    content, _ = images
    _compare(viewer, widget, wait_idle)
    comparison = viewer.layers[-1]
    row = list_color_transfers().index("histogram")
    widget.table.native.setCurrentCell(row, 0)  # choosing a row moves the method slider
    assert widget.comparison.position() == row
    expected = np.array(comparison.data[row])
    kept = widget.keep()
    assert [layer.name for layer in viewer.layers] == ["content", "style", "content [histogram]"]
    assert viewer.dims.ndim == 2 and kept.rgb and kept.data.shape == content.data.shape
    np.testing.assert_array_equal(kept.data, expected)
    np.testing.assert_allclose(kept.scale, content.scale)
    np.testing.assert_allclose(kept.translate, content.translate)
    nst = kept.metadata["nst"]
    assert nst["method"] == "histogram" and nst["kind"] == "color_transfer" and "kl_reference_result" in nst
    assert nst["napari"]["source_layer"] == "content" and nst["napari"]["compared_with"] == list_color_transfers()
    assert not widget.keep_button.enabled


def test_a_second_compare_reuses_the_comparison_layer(viewer, widget, wait_idle) -> None:
    _compare(viewer, widget, wait_idle)
    first = widget.comparison.layer
    widget.method.value = "idt"
    assert _compare(viewer, widget, wait_idle) == []  # no layer removed and added again
    assert widget.comparison.layer == first and [layer.name for layer in viewer.layers].count("content [compare all]") == 1
    assert widget.comparison.position() == list_color_transfers().index("idt")


def test_compare_all_on_a_stack_uses_the_current_plane_and_keeps_it_there(viewer, images, dock, wait_idle) -> None:
    _, style = images
    data = np.random.default_rng(6).integers(0, 256, (5, 16, 20, 3), dtype=np.uint8)
    stack = viewer.add_image(data, name="stack", rgb=True, scale=(3.0, 1.0, 1.0))
    viewer.dims.set_current_step(0, 3)
    widget = dock("Color Transfer")
    widget.source.value, widget.reference.value = stack, style
    added = _compare(viewer, widget, wait_idle)
    layer = added[0]
    assert layer.data.shape == (len(list_color_transfers()), 1, 16, 20, 3)
    np.testing.assert_allclose(layer.translate[:2], (0.0, 9.0))
    assert viewer.dims.current_step[1] == 3  # the stack's slider stays where it was
    kept = widget.keep()
    assert kept.data.shape == (1, 16, 20, 3) and viewer.dims.ndim == 3
    np.testing.assert_allclose(kept.translate[0], 9.0)
    np.testing.assert_allclose(kept.extent.world[:, 0], (9.0, 9.0))
    assert kept.metadata["nst"]["napari"]["source_planes"] == [3]


def test_a_deleted_comparison_cannot_be_kept(viewer, widget, wait_idle, notifications) -> None:
    _compare(viewer, widget, wait_idle)
    viewer.layers.remove(viewer.layers[-1])
    assert not widget.keep_button.enabled
    assert widget.keep() is None and widget.status.is_error
    assert "Compare all" in notifications.errors()[-1]
