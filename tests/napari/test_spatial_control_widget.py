"""Spatial control in the Style Transfer widget: a Labels or Shapes mask, extra styles, style weights."""

from __future__ import annotations

import numpy as np
import pytest
from style_helpers import make_configure

from napari_nst._layers import shapes_to_labels

FAST = {"backbone": "random-multiscale", "steps": 3, "size": 32, "scales": 1}

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def fast_settings(fast_previews) -> None:
    """Every test here runs with the fast preview settings."""


configure = make_configure(FAST)


def labels_mask(content) -> np.ndarray:
    """Label 1 on the left half of the content, label 2 on the right half."""
    h, w = content.data.shape[:2]
    mask = np.ones((h, w), np.int32)
    mask[:, w // 2 :] = 2
    return mask


def run_to_end(widget, wait_idle, notifications) -> dict:
    assert widget.run() is not None, notifications.errors()
    wait_idle(widget)
    nst = widget.output.metadata["nst"]
    assert nst["napari"]["state"] == "done", notifications.errors()
    return nst


def test_labels_mask_run(viewer, images, dock, wait_idle, notifications) -> None:
    content, style = images
    data = np.zeros(content.data.shape[:2], np.int32)
    data[5:30, 10:40] = 1
    labels = viewer.add_labels(data, name="region", scale=content.scale, translate=content.translate)
    before = labels.data.copy()
    widget = configure(dock("Style Transfer"), content, style, mask=labels)
    nst = run_to_end(widget, wait_idle, notifications)
    assert nst["mask"] is True
    assert nst["napari"]["mask_layer"] == "region" and nst["napari"]["mask_plane"] == []
    np.testing.assert_array_equal(labels.data, before)


def test_shapes_mask_run(viewer, images, dock, wait_idle, notifications) -> None:
    content, style = images
    # World coordinates: the content has scale 2 and translate (10, -4).
    rect = np.array([[20.0, 0.0], [20.0, 60.0], [60.0, 60.0], [60.0, 0.0]])
    shapes = viewer.add_shapes([rect], shape_type="rectangle", name="rect")
    before = [d.copy() for d in shapes.data]
    widget = configure(dock("Style Transfer"), content, style, mask=shapes)
    nst = run_to_end(widget, wait_idle, notifications)
    assert nst["mask"] is True and nst["napari"]["mask_layer"] == "rect"
    assert len(shapes.data) == 1
    np.testing.assert_array_equal(shapes.data[0], before[0])


def test_shapes_are_rasterised_in_content_coordinates(viewer, images) -> None:
    content, _ = images
    rect = np.array([[20.0, 0.0], [20.0, 60.0], [60.0, 60.0], [60.0, 0.0]])
    square = np.array([[70.0, 70.0], [70.0, 90.0], [90.0, 90.0], [90.0, 70.0]])
    shapes = viewer.add_shapes([rect, square], shape_type="rectangle")
    hw = content.data.shape[:2]
    labels = shapes_to_labels(shapes, content, hw)
    assert labels.shape == hw and set(np.unique(labels)) == {0, 1, 2}
    rows, cols = np.nonzero(labels == 1)
    # world (20..60, 0..60) -> content data ((20-10)/2 .. (60-10)/2, (0+4)/2 .. (60+4)/2)
    assert abs(rows.min() - 5) <= 1 and abs(rows.max() - 25) <= 1
    assert abs(cols.min() - 2) <= 1 and abs(cols.max() - 32) <= 1


def test_two_styles_with_weights(viewer, images, dock, wait_idle, notifications) -> None:
    content, style = images
    second = viewer.add_image(np.ascontiguousarray(style.data[:, ::-1]), name="style 2", rgb=True)
    widget = configure(dock("Style Transfer"), content, style)
    widget.extra_styles.value = [second]
    widget.style_weights.value = "3, 1"
    nst = run_to_end(widget, wait_idle, notifications)
    assert nst["style_weights"] == pytest.approx([0.75, 0.25])
    assert nst["napari"]["style_layers"] == ["style", "style 2"]
    assert widget.output.name == "content styled (style, style 2)"


def test_two_styles_in_label_regions(viewer, images, dock, wait_idle, notifications) -> None:
    content, style = images
    second = viewer.add_image(np.ascontiguousarray(style.data[::-1]), name="style 2", rgb=True)
    labels = viewer.add_labels(labels_mask(content), name="regions")
    widget = configure(dock("Style Transfer"), content, style, mask=labels)
    widget.extra_styles.value = [second]
    nst = run_to_end(widget, wait_idle, notifications)
    assert nst["mask"] is True and nst["napari"]["mask_layer"] == "regions"


def test_mask_layers_added_later_appear(viewer, images, dock) -> None:
    widget = dock("Style Transfer")
    names = lambda: [widget.mask.native.itemText(i) for i in range(widget.mask.native.count())]  # noqa: E731
    assert "content" not in names()
    viewer.add_labels(np.zeros((8, 8), np.int32), name="late labels")
    viewer.add_shapes(name="late shapes")
    assert "late labels" in names() and "late shapes" in names()
    viewer.add_image(np.zeros((8, 8), np.float32), name="late image")
    assert "late image" in [layer.name for layer in widget.extra_styles.choices]


@pytest.mark.parametrize(
    ("text", "problem"), [("a,b", "'a' is not a number"), ("1,2,3", "3 weight(s) for 2 style image(s)")]
)
def test_bad_weights_notify(viewer, images, dock, notifications, text, problem) -> None:
    content, style = images
    second = viewer.add_image(style.data, name="style 2", rgb=True)
    widget = configure(dock("Style Transfer"), content, style)
    widget.extra_styles.value = [second]
    widget.style_weights.value = text
    layers = len(viewer.layers)
    assert widget.run() is None
    assert "style weights" in notifications.errors()[-1] and problem in notifications.errors()[-1]
    assert len(viewer.layers) == layers and not widget.running


def test_mask_missing_a_style_region_notifies(viewer, images, dock, notifications) -> None:
    content, style = images
    second = viewer.add_image(style.data, name="style 2", rgb=True)
    labels = viewer.add_labels(np.ones(content.data.shape[:2], np.int32), name="one region")
    widget = configure(dock("Style Transfer"), content, style, mask=labels)
    widget.extra_styles.value = [second]
    assert widget.run() is None
    assert "has no label 2" in notifications.errors()[-1]


def halves_stack(viewer, planes: int = 2):
    """A gray stack and a Labels stack that styles the left half of plane 0, the right of plane 1."""
    rng = np.random.default_rng(5)
    content = viewer.add_image(rng.random((planes, 32, 40)).astype(np.float32), name="stack")
    masks = np.zeros((planes, 32, 40), np.int32)
    masks[0, :, :20] = 1
    masks[1:, :, 20:] = 1
    return content, viewer.add_labels(masks, name="per plane")


def test_all_planes_take_each_planes_own_mask(viewer, images, dock, wait_idle, notifications) -> None:
    _, style = images
    stack, labels = halves_stack(viewer)
    before = labels.data.copy()
    widget = configure(dock("Style Transfer"), stack, style, mask=labels, size=40)
    widget.planes.value = "all planes"
    nst = run_to_end(widget, wait_idle, notifications)
    assert nst["napari"]["mask_plane"] == "each content plane's own"
    changed = np.abs(widget.output.data[..., 0] - stack.data)  # gray content: R is the result's gray
    inner = (slice(4, -4), slice(4, 16)), (slice(4, -4), slice(24, -4))  # left, right, off the border
    for plane, (styled, kept) in enumerate((inner, inner[::-1])):
        assert changed[plane][styled].mean() > 10 * changed[plane][kept].mean() + 1e-3
    np.testing.assert_array_equal(labels.data, before)


def test_a_plane_without_its_region_is_named(viewer, images, dock, notifications) -> None:
    _, style = images
    stack, labels = halves_stack(viewer, planes=3)
    labels.data[2] = 0
    widget = configure(dock("Style Transfer"), stack, style, mask=labels)
    widget.planes.value = "all planes"
    assert widget.run() is None
    assert "is empty (all 0) at plane [2]" in notifications.errors()[-1]
