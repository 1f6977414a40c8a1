"""The Style Transfer panel as a laptop user meets it: layout, errors, defaults, stacks, cancel, nothing lost."""

from __future__ import annotations

import time

import numpy as np
import pytest
from style_helpers import make_configure

from napari_nst._qt import style_form

FAST = {"backbone": "random-multiscale", "steps": 4, "size": 48, "scales": 1}

pytestmark = pytest.mark.gui

configure = make_configure(FAST)


def _inside_window(viewer, widget) -> bool:
    native = widget.native
    window = native.window()  # the main window itself (the viewer fixture hands out proxies)
    top_left = native.mapTo(window, native.rect().topLeft())
    bottom_right = native.mapTo(window, native.rect().bottomRight())
    return native.isVisible() and window.rect().contains(top_left) and window.rect().contains(bottom_right)


def test_all_three_panels_fit_a_laptop_window(laptop_viewer, main_window, images, dock, qtbot) -> None:
    widgets = [dock(name) for name in ("Style Transfer", "Color Transfer", "Evaluate")]
    qtbot.wait(100)
    window = main_window()
    assert (window.width(), window.height()) == (1280, 800)
    style = widgets[0]
    assert _inside_window(laptop_viewer, style.run_button) and _inside_window(laptop_viewer, style.cancel_button)
    assert _inside_window(laptop_viewer, widgets[1].apply_button)
    assert _inside_window(laptop_viewer, widgets[2].evaluate_button)
    canvas = window.centralWidget()  # napari's QtViewer: the canvas over the dims sliders
    assert canvas.width() >= window.width() / 2


def test_a_long_error_leaves_the_window_size_alone(laptop_viewer, main_window, images, dock, qtbot) -> None:
    widget = dock("Style Transfer")
    qtbot.wait(50)
    window = main_window()
    before = window.size()
    message = "weights file " + "/very/long/directory" * 32 + " does not exist"
    assert len(message) > 600
    widget.status.show_error(message)
    qtbot.wait(100)
    assert window.size() == before
    assert widget.status.value == message and len(widget.status.shown_text) < len(message)
    assert _inside_window(laptop_viewer, widget.run_button)


def test_form_errors_show_in_the_status_line_and_beside_the_field(viewer, images, dock, notifications) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style)
    widget.losses["weight_gram"].value = "1e4x"
    field = widget.losses["weight_gram"].native
    assert "1e4x" in field.toolTip() and field.styleSheet()  # marked as soon as it is typed
    layers = len(viewer.layers)
    assert widget.run() is None
    assert widget.status.is_error and "1e4x" in widget.status.value
    assert len(viewer.layers) == layers  # no result layer for a run that never started
    widget.losses["weight_gram"].value = "1e4"
    assert not field.styleSheet()
    widget.optimizer.form()["lr"].value = "-1"
    assert widget.run() is None
    assert "lr" in widget.status.value and ">=" in widget.status.value
    assert notifications.errors()


def test_style_defaults_away_from_the_content(viewer, dock) -> None:
    viewer.open_sample("napari-nst", "pair")
    widget = dock("Style Transfer")
    assert widget.content.value is not widget.style.value
    assert widget.style.value.name.endswith("(style)")


def test_offline_default_is_weight_free_and_runs(viewer, images, dock, wait_idle, fast_previews, monkeypatch) -> None:
    monkeypatch.setattr(style_form, "has_imagenet_weights", lambda arch="vgg19": False)
    content, style = images
    widget = dock("Style Transfer")
    assert widget.backbone.value == "random-multiscale"
    assert not widget.weights_note.native.isHidden() and "VGG" in widget.weights_note.value
    widget.content.value, widget.style.value = content, style
    widget.quality.value = "draft"
    assert (widget.steps.value, widget.scales.value) == style_form.PRESETS["draft"]
    widget.size.value, widget.steps.value = 64, 6
    assert widget.quality.value == "custom"
    widget.run()
    wait_idle(widget)
    assert widget.output.metadata["nst"]["napari"]["state"] == "done"
    assert widget.status.value.startswith("done")


def test_precision_and_stopping_rule_reach_the_run(viewer, images, dock, wait_idle, fast_previews,
                                                  monkeypatch) -> None:
    import nst_engine.precision

    monkeypatch.setattr(nst_engine.precision, "has_bf16", lambda device: False)
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, steps=30, until="steps", precision="auto")
    widget.run()
    wait_idle(widget)
    nst = widget.output.metadata["nst"]
    assert nst["precision"] == "fp32" and nst["options"]["precision"] == "auto"
    assert nst["until"] == "steps" and nst["steps_run"] == 30
    widget.until.value = "converged"
    assert widget.engine_options()["until"] == "converged"


def test_a_run_that_never_starts_leaves_no_layer(viewer, images, dock, wait_idle, notifications) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, backbone="vgg19")
    widget.backbone.form()["download"].value = False
    names = [layer.name for layer in viewer.layers]
    widget.run()
    wait_idle(widget)
    assert [layer.name for layer in viewer.layers] == names
    assert widget.status.is_error and "random-multiscale" in widget.status.value
    assert notifications.errors()


@pytest.mark.parametrize("shape", [(5, 40, 48, 3), (5, 40, 48)])
def test_current_plane_of_a_stack_lands_at_that_plane(viewer, images, dock, wait_idle, fast_previews, shape) -> None:
    _, style = images
    data = np.random.default_rng(3).integers(0, 255, shape, np.uint8)
    stack = viewer.add_image(data, name="stack", rgb=len(shape) == 4, scale=(2.0, 1.0, 1.0))
    viewer.dims.set_current_step(0, 3)
    widget = configure(dock("Style Transfer"), stack, style, size=24)
    widget.run()
    wait_idle(widget)
    output = widget.output
    assert output.data.shape[0] == 1 and output.ndim == 3
    assert output.translate[0] == pytest.approx(3 * 2.0) and output.scale[0] == 2.0
    assert output.metadata["nst"]["napari"]["content_planes"] == [3]
    viewer.dims.set_current_step(0, 3)
    assert output._data_view.shape[:2] == output.data.shape[1:3]  # drawn at plane 3 ...
    viewer.dims.set_current_step(0, 1)
    assert output._data_view.shape[:2] != output.data.shape[1:3]  # ... and not elsewhere


def test_cancel_stops_inside_a_step(viewer, images, dock, qtbot, wait_idle) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, backbone="vgg19", size=512, steps=50)
    widget.backbone.form()["weights"].value = "random"
    widget.run()
    qtbot.wait(1500)  # inside the first step at 512 px
    started = time.perf_counter()
    widget.cancel()
    wait_idle(widget, timeout=30)
    took = time.perf_counter() - started
    nst = widget.output.metadata["nst"]
    assert nst["cancelled"] and nst["napari"]["state"] == "cancelled"
    assert took < 5.0, f"cancel took {took:.1f} s"


def test_deleting_the_result_layer_mid_run_keeps_the_result(viewer, images, dock, qtbot, wait_idle, fast_previews) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, steps=400, until="steps")
    widget.run()
    qtbot.waitUntil(lambda: "loss" in widget.status.value, timeout=30_000)
    viewer.layers.remove(widget.output)
    assert widget.running
    wait_idle(widget)
    assert widget.output in viewer.layers
    assert widget.output.metadata["nst"]["steps_run"] == 400 and widget.output.data.any()
    assert "added again" in widget.status.value


def test_closing_the_panel_mid_run_cancels(viewer, images, dock, qtbot, wait_idle, fast_previews) -> None:
    content, style = images
    widget = configure(dock("Style Transfer"), content, style, steps=2000)
    widget.run()
    qtbot.waitUntil(lambda: "loss" in widget.status.value, timeout=30_000)
    viewer.window.remove_dock_widget(widget.native)
    wait_idle(widget, timeout=20)
    nst = widget.output.metadata["nst"]
    assert nst["cancelled"] and nst["steps_run"] < 2000


def test_every_control_has_a_tooltip(viewer, images, dock) -> None:
    widget = dock("Style Transfer")
    missing = [
        w.name for w in _leaves(widget)
        if w.widget_type not in ("Label", "Container") and w.visible is not False and not w.native.toolTip()
    ]
    assert not missing


def _leaves(container):
    from magicgui.widgets import Container

    for widget in container:
        if isinstance(widget, Container):
            yield from _leaves(widget)
        else:
            yield widget
