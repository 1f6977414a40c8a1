"""Make the napari screenshots in docs/images/ at 1280×800, the laptop screen the panels must fit.

Run from the repository root (napari needs a display; on a headless machine use Xvfb)::

    xvfb-run -a -s "-screen 0 1280x1024x24" python docs/scripts/napari_screenshots.py [NAME ...]

NAME is one of ``laptop``, ``style``, ``mask``, ``stack``, ``color``, ``evaluate`` (default:
all). Everything uses ``skimage.data`` images and the weight-free ``random-multiscale``
backbone, so it runs offline.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import napari
import numpy as np
from qtpy.QtWidgets import QApplication
from skimage import data

IMAGES = Path(__file__).resolve().parents[1] / "images"
PLUGIN = "napari-nst"


def _viewer() -> Any:
    viewer = napari.Viewer()
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(1280, 800)
    return viewer


def _wait(done: Callable[[], bool], limit_s: float = 900) -> None:
    end = time.monotonic() + limit_s
    while not done() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.05)
    if not done():
        raise SystemExit("gave up waiting")
    for _ in range(10):
        QApplication.processEvents()
        time.sleep(0.02)


def _save(viewer: Any, name: str, *, close: bool = True) -> None:
    path = IMAGES / f"napari-{name}.png"
    viewer.reset_view()
    QApplication.processEvents()
    viewer.screenshot(str(path), canvas_only=False)
    print(f"wrote {path}")
    if close:
        viewer.close()


def _pair(viewer: Any) -> tuple[Any, Any]:
    viewer.open_sample(PLUGIN, "pair")
    content, style = viewer.layers[0], viewer.layers[1]
    return content, style


def laptop() -> None:
    """All four panels docked: the buttons stay in view and the canvas keeps half the width."""
    viewer = _viewer()
    _pair(viewer)
    for name in ("Style Transfer", "Color Transfer", "Fast Style", "Evaluate"):
        viewer.window.add_plugin_dock_widget(PLUGIN, name)
    _wait(lambda: True)
    _save(viewer, "laptop")


def style() -> None:
    """A finished draft run, with the Optimisation section open."""
    viewer = _viewer()
    content, style_layer = _pair(viewer)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Style Transfer")
    widget.quality.value = "draft"
    widget.size.value = 256
    widget.sections[1].expanded = True
    widget.run()
    _wait(lambda: not widget.running)
    content.visible = style_layer.visible = False
    viewer.layers.selection.active = widget.output
    _save(viewer, "style-transfer")


def mask() -> None:
    """Styling inside a Shapes ellipse over the cat's face: outside it the result is the content."""
    viewer = _viewer()
    content, style_layer = _pair(viewer)
    ellipse = np.array([[30.0, 160.0], [30.0, 360.0], [260.0, 360.0], [260.0, 160.0]])
    outline = viewer.add_shapes(
        [ellipse], shape_type="ellipse", name="cat mask", edge_color="yellow", face_color="transparent", edge_width=3
    )
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Style Transfer")
    widget.content.value, widget.style.value, widget.mask.value = content, style_layer, outline
    widget.steps.value, widget.size.value = 60, 256
    widget.sections[3].expanded = True
    widget.run()
    _wait(lambda: not widget.running)
    for layer in (content, style_layer):
        layer.visible = False
    viewer.layers.move(viewer.layers.index(outline), len(viewer.layers))  # the outline on top
    viewer.layers.selection.active = widget.output
    _save(viewer, "mask")


def stack() -> None:
    """All planes of a short time series (a pan over the cat) with temporal coherence, caught
    while the third frame runs: the sliders follow the frame being worked on."""
    viewer = _viewer()
    photo = data.chelsea()
    frames = np.stack([photo[:, 20 * t : 20 * t + 300] for t in range(5)])
    content = viewer.add_image(frames, name="pan (T, Y, X, 3)", rgb=True, axis_labels=("t", "y", "x"))
    style_layer = viewer.add_image(data.immunohistochemistry(), name="immunohistochemistry (style)", rgb=True)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Style Transfer")
    widget.content.value, widget.style.value = content, style_layer
    widget.planes.value = "all planes"
    widget.steps.value, widget.scales.value, widget.size.value = 80, 1, 256
    viewer.dims.set_current_step(0, 0)
    widget.run()
    _wait(lambda: "frame 3/5 · step 4" in widget.status.value)
    content.visible = style_layer.visible = False
    _save(viewer, "stack", close=False)
    widget.cancel()
    _wait(lambda: not widget.running)
    viewer.close()


def color() -> None:
    """Compare all: one layer with a method axis, the table beside it."""
    viewer = _viewer()
    viewer.open_sample(PLUGIN, "content")
    coffee = viewer.add_image(data.coffee(), name="coffee (reference)", rgb=True)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Color Transfer")
    widget.reference.value = coffee
    widget.compare_all()
    _wait(lambda: not widget.running)
    coffee.visible = False
    viewer.layers[0].visible = False
    _save(viewer, "color-transfer")


def evaluate() -> None:
    """Evaluate three recolourings against the reference's colors and the source's structure."""
    viewer = _viewer()
    viewer.open_sample(PLUGIN, "content")
    source = viewer.layers[0]
    coffee = viewer.add_image(data.coffee(), name="coffee (reference)", rgb=True)
    _, color_widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Color Transfer")
    color_widget.reference.value = coffee
    for method in ("reinhard", "histogram", "idt"):
        color_widget.method.value = method
        color_widget.apply()
        _wait(lambda: not color_widget.running)
    viewer.window.remove_dock_widget(color_widget.native)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Evaluate")
    widget.layers.value = [layer for layer in viewer.layers if "[" in layer.name]
    widget.colors.value, widget.structure.value = coffee, source
    widget.evaluate()
    _wait(lambda: not widget.running)
    _save(viewer, "evaluate")


def fast() -> None:
    """Fast Style on a short time series: a seeded, untrained two-style TransformerNet (no
    download), every plane done, following the sliders."""
    import tempfile

    import torch

    from nst_engine.models import johnson, save_model

    model = johnson(styles=2, seed=0)
    noise = torch.Generator().manual_seed(1)
    with torch.no_grad():  # untrained: give the two styles their own (gamma, beta), the output mid-gray's spread
        for parameter in model.parameters():
            if parameter.ndim == 2:
                parameter.add_(0.5 * torch.randn(parameter.shape, generator=noise))
        model.deconv3.conv2d.weight.mul_(100.0)
        model.deconv3.conv2d.bias.fill_(127.5)
    path = save_model(model, Path(tempfile.mkdtemp()) / "untrained-two-styles.pth")
    viewer = _viewer()
    photo = data.chelsea()
    frames = np.stack([photo[:, 20 * t : 20 * t + 300] for t in range(5)])
    content = viewer.add_image(frames, name="pan (T, Y, X, 3)", rgb=True, axis_labels=("t", "y", "x"))
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Fast Style")
    widget.model_file.value = path
    _wait(lambda: not widget.running)
    widget.content.value = content
    widget.planes.value = "all planes"
    widget.style_index.value = 1
    widget.apply()
    _wait(lambda: not widget.running)
    widget.follow.value = True
    viewer.dims.set_current_step(0, 3)
    _wait(lambda: not widget.running)
    content.visible = False
    _save(viewer, "fast-style")


SHOTS = {"laptop": laptop, "style": style, "mask": mask, "stack": stack, "color": color, "evaluate": evaluate,
         "fast": fast}


def main(names: list[str]) -> int:
    for name in names or list(SHOTS):
        SHOTS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
