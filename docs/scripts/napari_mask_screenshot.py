"""Make docs/images/napari-mask.png: the Style Transfer widget styling inside a Shapes ellipse.

Run from the repository root (napari needs a display; on a headless machine use Xvfb)::

    xvfb-run -a -s "-screen 0 1280x1024x24" python docs/scripts/napari_mask_screenshot.py

chelsea styled by immunohistochemistry (both from ``skimage.data``) with the weight-free
``random-multiscale`` backbone, 60 L-BFGS steps at 256 px, inside an ellipse over the cat's
face: outside it the result is the content itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtWidgets import QApplication
from skimage import data

OUT = Path(__file__).resolve().parents[1] / "images" / "napari-mask.png"


def main() -> int:
    viewer = napari.Viewer()
    viewer.window.resize(1280, 1220)
    content = viewer.add_image(data.chelsea(), name="chelsea (content)")
    style = viewer.add_image(data.immunohistochemistry(), name="immunohistochemistry (style)")
    ellipse = np.array([[30.0, 160.0], [30.0, 360.0], [260.0, 360.0], [260.0, 160.0]])
    mask = viewer.add_shapes([ellipse], shape_type="ellipse", name="cat mask", edge_color="yellow",
                             face_color="transparent", edge_width=3)
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value, widget.style.value, widget.mask.value = content, style, mask
    widget.backbone.value = "random-multiscale"
    widget.steps.value, widget.size.value = 60, 256
    widget.run()
    deadline = time.monotonic() + 900
    while widget.running and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.05)
    if widget.running:
        print("the run did not finish in 15 minutes", file=sys.stderr)
        return 1
    for layer in (content, style):
        layer.visible = False
    viewer.layers.move(viewer.layers.index(mask), len(viewer.layers))  # the outline on top
    viewer.layers.selection.active = widget.output
    viewer.reset_view()
    QApplication.processEvents()
    viewer.screenshot(str(OUT), canvas_only=False)
    print(f"wrote {OUT}: {widget.status.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
