"""The Style Transfer widget end to end: docked, run, live preview, cancel, stacks, failures."""

from __future__ import annotations

import numpy as np
import pytest
from style_helpers import make_configure

from napari_nst._layers import output_geometry, output_hw
from napari_nst._qt.style_transfer import StyleTransferWidget

FAST = {"backbone": "random-multiscale", "steps": 4, "size": 48, "scales": 1}

pytestmark = pytest.mark.gui


configure = make_configure(FAST)


def test_opens_from_the_plugins_menu(dock, images) -> None:
    widget = dock("Style Transfer")
    assert isinstance(widget, StyleTransferWidget)
    assert [getattr(layer, "name", repr(layer)) for layer in widget.content.choices] == [
        "content", "style", "every selected layer"]
    assert "random-multiscale" in widget.backbone.choice.choices


def test_full_run_updates_live_and_records_provenance(viewer, images, dock, qtbot, wait_idle, fast_previews) -> None:
    content, style = images
    content_before, style_before = content.data.copy(), style.data.copy()
    widget = configure(dock("Style Transfer"), content, style, steps=5)
    widget.run()
    # Run returns at once; the result layer (~0.2 s of napari's time) comes in the next pass.
    assert widget.running and not widget.run_button.enabled and widget.output is None
    qtbot.waitUntil(lambda: widget.output is not None, timeout=5_000)
    output = widget.output
    updates = []
    output.events.set_data.connect(lambda event: updates.append(event))
    wait_idle(widget)

    hw = output_hw(content.data.shape[:2], FAST["size"])
    assert output.data.shape == hw + (3,) and output.rgb
    assert tuple(output.contrast_limits) == (0.0, 1.0)
    geometry = output_geometry(content, content.data.shape[:2], hw, leading=False)
    np.testing.assert_allclose(output.scale, geometry["scale"])
    np.testing.assert_allclose(output.translate, geometry["translate"])
    assert len(updates) >= 3  # previews while running, then the result
    nst = output.metadata["nst"]
    assert nst["backbone"]["name"] == "random-multiscale" and nst["steps_run"] == 5 and not nst["cancelled"]
    assert nst["threads"] == 1 and nst["device"] == "cpu"
    assert nst["napari"]["content_layer"] == "content" and nst["napari"]["state"] == "done"
    assert nst["napari"]["input_scaling"] == {"content": "as is (uint8)", "style": "as is (uint8)"}
    np.testing.assert_array_equal(content.data, content_before)
    np.testing.assert_array_equal(style.data, style_before)
    assert widget.status.value.startswith("done")


def test_cancel_keeps_the_partial_result(images, dock, qtbot, wait_idle, fast_previews) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, steps=2000)
    widget.run()
    qtbot.waitUntil(lambda: "loss" in widget.status.value, timeout=30_000)
    widget.cancel()
    wait_idle(widget, timeout=20)
    output = widget.output
    nst = output.metadata["nst"]
    assert nst["cancelled"] and nst["napari"]["state"] == "cancelled"
    assert 0 < nst["steps_run"] < 2000
    assert output.name.endswith("(cancelled)") and output.data.any()
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_layer_choices_follow_the_layer_list(viewer, images, dock) -> None:
    widget = dock("Style Transfer")
    names = lambda: [widget.content.native.itemText(i) for i in range(widget.content.native.count())]  # noqa: E731
    added = viewer.add_image(np.zeros((10, 10), np.float32), name="added")
    assert "added" in names()
    added.name = "renamed"
    assert "renamed" in names() and "added" not in names()
    viewer.layers.remove(added)
    assert names() == ["content", "style", "every selected layer"]


def test_all_planes_of_a_float_stack(viewer, images, dock, wait_idle, fast_previews) -> None:
    _, style = images
    rng = np.random.default_rng(1)
    data = rng.random((3, 40, 48)) * 5.0
    stack = viewer.add_image(data, name="stack", contrast_limits=(0.0, 5.0), scale=(4.0, 1.0, 1.0))
    before = stack.data.copy()
    widget = dock("Style Transfer")
    configure(widget, stack, style, steps=3, size=24)
    assert widget.planes.enabled
    widget.planes.value = "all planes"
    widget.run()
    wait_idle(widget)
    output = widget.output
    assert output.data.shape == (3, 20, 24, 3) and output.rgb
    assert output.data.reshape(3, -1).any(axis=1).all()
    assert output.scale[0] == 4.0
    nst = output.metadata["nst"]
    assert [p["index"] for p in nst["planes"]] == [[0], [1], [2]]
    assert nst["napari"]["content_planes"] == "all"
    assert "contrast limits [0, 5]" in nst["napari"]["input_scaling"]["content"]
    np.testing.assert_array_equal(stack.data, before)


def test_current_plane_of_an_rgb_stack(viewer, images, dock, wait_idle, fast_previews) -> None:
    _, style = images
    data = np.random.default_rng(2).integers(0, 255, (4, 32, 32, 3), np.uint8)
    stack = viewer.add_image(data, name="rgb stack", rgb=True)
    viewer.dims.set_current_step(0, 2)
    widget = configure(dock("Style Transfer"), stack, style, steps=2, size=16)
    widget.run()
    wait_idle(widget)
    assert widget.output.data.shape == (1, 16, 16, 3)  # placed at plane 2 (test_style_panel checks where)
    assert widget.output.metadata["nst"]["napari"]["content_planes"] == [2]


def test_failing_run_notifies_and_leaves_inputs_intact(images, dock, wait_idle, notifications) -> None:
    content, style = images
    content_before = content.data.copy()
    widget = configure(dock("Style Transfer"), content, style, backbone="vgg19")
    widget.run()
    wait_idle(widget)
    errors = notifications.errors()
    assert errors and "Style transfer failed" in errors[-1] and "random-multiscale" in errors[-1]
    np.testing.assert_array_equal(content.data, content_before)
    assert widget.output is None  # it failed before its first step: no "(failed)" layer
    assert widget.status.is_error and "random-multiscale" in widget.status.value
    assert widget.run_button.enabled


def test_bad_form_input_notifies_without_running(viewer, dock, notifications) -> None:
    widget = dock("Style Transfer")
    assert widget.run() is None
    assert "choose a content and a style" in notifications.errors()[-1]
    viewer.add_image(np.zeros((8, 8)), name="a")
    widget.reset_choices()
    widget.losses.set_weights({})
    assert widget.run() is None
    assert "every loss weight is 0" in notifications.errors()[-1]
    assert len(viewer.layers) == 1


def test_color_preservation(images, dock, wait_idle, fast_previews, notifications) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, steps=2)
    assert widget.color_transfer.choice.native.isHidden()
    widget.color.value = "before"
    assert not widget.color_transfer.choice.native.isHidden()
    widget.color_transfer.value = "reinhard"
    widget.color_transfer.form()["space"].value = "cielab"
    assert widget.color_option() == "before:reinhard"
    widget.run()
    wait_idle(widget)
    assert widget.output.metadata["nst"]["napari"]["state"] == "done", notifications.errors()
    nst = widget.output.metadata["nst"]
    assert "before:reinhard" in str(nst) and "cielab" in str(nst)
