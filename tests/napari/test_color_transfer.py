"""The Color Transfer widget: apply one method, stacks, defaults, errors, the panel's layout."""

from __future__ import annotations

import numpy as np
import pytest

from napari_nst._qt.color_transfer import ColorTransferWidget
from nst_engine import get_entry
from nst_engine.transfers import call_color_transfer

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
    assert widget.table.native.isHidden() and widget.progress.native.isHidden()
    assert widget.status.value == "done: content [idt]" and not widget.status.is_error


def test_reference_defaults_away_from_source(viewer, images, dock) -> None:
    widget = dock("Color Transfer")
    assert widget.source.value is not None and widget.reference.value is not widget.source.value


def test_reference_defaults_to_the_style_sample_after_open_sample(viewer, dock) -> None:
    widget = dock("Color Transfer")
    viewer.open_sample("napari-nst", "pair")
    assert widget.source.value.name == "chelsea (content)"
    assert widget.reference.value.name == "immunohistochemistry (style)"


def _transfer(stack: np.ndarray, index: tuple[int, ...], reference: np.ndarray) -> np.ndarray:
    entry = get_entry("color_transfers", "reinhard")
    return call_color_transfer(entry, stack[index], reference, entry.bind({}))


@pytest.mark.parametrize(
    ("shape", "rgb", "index"),
    [((5, 16, 20, 3), True, (3,)), ((5, 16, 20), False, (2,)), ((2, 3, 16, 20, 3), True, (1, 2))],
    ids=["rgb-t", "gray-t", "rgb-tz"],
)
def test_current_plane_of_a_stack_is_placed_at_that_plane(
    viewer, images, dock, wait_idle, shape, rgb, index
) -> None:
    _, style = images
    data = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    stack = viewer.add_image(data, name="stack", rgb=rgb, scale=(2.0,) * (len(shape) - 2 - rgb) + (1.0, 1.0))
    for axis, step in enumerate(index):
        viewer.dims.set_current_step(axis, step)
    widget = dock("Color Transfer")
    widget.source.value, widget.reference.value = stack, style
    assert widget.planes.value == "current plane"
    widget.apply()
    wait_idle(widget)
    layer = viewer.layers[-1]
    assert not widget.status.is_error, widget.status.value
    assert layer.rgb == rgb and layer.data.shape == (1,) * len(index) + shape[len(index) :]
    np.testing.assert_allclose(layer.translate[: len(index)], 2.0 * np.asarray(index))
    world = layer.extent.world
    np.testing.assert_allclose(world[0, : len(index)], world[1, : len(index)])  # drawn at that one plane only
    np.testing.assert_allclose(world[0, : len(index)], 2.0 * np.asarray(index))
    np.testing.assert_array_equal(layer.data[(0,) * len(index)], _transfer(data, index, style.data))
    assert layer.metadata["nst"]["napari"]["source_planes"] == list(index)


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


def test_failure_shows_in_the_status_line_and_notifies(viewer, images, widget, wait_idle, notifications) -> None:
    content, _ = images
    before = content.data.copy()
    holes = np.random.default_rng(4).random((20, 20)).astype(np.float32)
    holes[3, 4] = np.nan
    widget.reference.value = viewer.add_image(holes, name="holes", contrast_limits=(0.0, 1.0))
    widget.apply()
    wait_idle(widget)
    assert "Color transfer failed" in notifications.errors()[-1] and "NaN" in notifications.errors()[-1]
    assert widget.status.is_error and "NaN" in widget.status.value
    np.testing.assert_array_equal(content.data, before)
    assert widget.apply_button.enabled and widget.progress.native.isHidden()


def test_missing_layers_show_at_once(viewer, dock, notifications) -> None:
    widget = dock("Color Transfer")
    assert widget.apply() is None
    assert "choose a source and a reference" in notifications.errors()[-1]
    assert widget.status.is_error and "choose a source and a reference" in widget.status.value


def test_a_form_error_shows_before_any_run(viewer, widget, notifications) -> None:
    widget.method.value = "idt"
    widget.method.form()["regrain_smoothness"].value = "smooth"
    layers = len(viewer.layers)
    assert widget.apply() is None and widget.compare_all() is None
    assert not widget.running and len(viewer.layers) == layers
    assert widget.status.is_error and "regrain_smoothness" in widget.status.value
    assert "regrain_smoothness" in notifications.errors()[-1]
    assert not widget.method_options.body.native.isHidden()  # the field the message names is shown


def test_a_long_error_keeps_the_window_size(laptop_viewer, main_window, images, dock, qtbot) -> None:
    window = main_window()
    widget = dock("Color Transfer")
    widget.source.value, widget.reference.value = images
    qtbot.wait(50)
    size = window.size()
    widget.method.value = "idt"
    widget.method.form()["regrain_smoothness"].value = "x" * 600
    widget.apply()
    qtbot.wait(50)
    assert len(widget.status.value) > 600 and widget.status.is_error
    assert window.size() == size
    assert len(widget.status.shown_text) < len(widget.status.value)  # elided, the whole text in the tooltip


def test_every_control_has_a_tooltip(widget) -> None:
    controls = [
        widget.source, widget.reference, widget.planes, widget.method.choice, widget.method_options.header,
        widget.apply_button, widget.compare_button, widget.keep_button, widget.table,
    ]
    assert all(control.tooltip for control in controls), [c.name for c in controls if not c.tooltip]
