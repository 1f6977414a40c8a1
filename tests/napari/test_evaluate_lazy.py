"""The Evaluate widget with lazy (dask) and multiscale layers: captured unread, read in the worker."""

from __future__ import annotations

import threading

import dask
import dask.array as da
import numpy as np
import pytest
from lazy_helpers import Recorded

from napari_nst import _evaluate_jobs
from napari_nst._lazy import LazyPlane

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def synchronous_dask():
    """dask reads in the thread that computes (see ``Recorded``)."""
    with dask.config.set(scheduler="synchronous"):
        yield


def lazy_layer(viewer, levels: list[np.ndarray], name: str) -> tuple[object, list[Recorded]]:
    """A hidden RGB layer over dask arrays of ``levels`` (multiscale for several); napari would read
    what it draws on the main thread."""
    recorded = [Recorded(level) for level in levels]
    data = [da.from_array(r, chunks=(16, 16, 3)) for r in recorded]
    layer = viewer.add_image(data if len(data) > 1 else data[0], multiscale=len(data) > 1, rgb=True, name=name,
                             contrast_limits=(0, 255), visible=False)
    return layer, recorded


def evaluated(widget, wait_idle, recorded: list[Recorded]) -> dict[str, dict]:
    """Make the inputs (asserting that the main thread read nothing) and evaluate: rows by layer."""
    for r in recorded:
        r.threads.clear()
    inputs = widget.make_inputs()
    assert not any(r.threads for r in recorded)
    assert all(isinstance(c.image, LazyPlane) for c in inputs["candidates"] if c.name.startswith("lazy"))
    widget.evaluate()
    wait_idle(widget)
    assert all(threading.main_thread() not in r.threads for r in recorded)
    return {row["layer"]: row for row in widget.table_rows()}


def test_a_dask_layer_is_read_in_the_worker_with_the_figures_of_its_array(viewer, images, dock, wait_idle) -> None:
    content, style = images
    recoloured = np.ascontiguousarray(content.data[..., ::-1])
    viewer.add_image(recoloured, name="recoloured", rgb=True)
    lazy, recorded = lazy_layer(viewer, [recoloured], "lazy recoloured")
    colors, colors_read = lazy_layer(viewer, [content.data], "lazy colors")
    widget = dock("Evaluate")
    widget.layers.value = [viewer.layers["recoloured"], lazy]
    widget.colors.value, widget.structure.value, widget.style.value = colors, content, style
    widget.backbone.value = "random-multiscale"
    rows = evaluated(widget, wait_idle, recorded + colors_read)
    assert recorded[0].threads and colors_read[0].threads
    figures = ("KL R", "KL G", "KL B", "SSIM", "Gram distance")
    assert [rows["lazy recoloured"][f] for f in figures] == pytest.approx([rows["recoloured"][f] for f in figures])
    assert rows["lazy recoloured"]["notes"] is None


def test_a_lazy_layer_above_the_evaluate_side_is_read_reduced_and_says_so(
    viewer, images, dock, wait_idle, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, _ = images  # 50×76
    monkeypatch.setattr(_evaluate_jobs, "EVALUATE_SIDE", 32)
    half = np.ascontiguousarray(content.data[::2, ::2])
    pyramid, levels = lazy_layer(viewer, [content.data, half], "lazy pyramid")
    widget = dock("Evaluate")
    widget.layers.value = [pyramid]
    widget.colors.value, widget.structure.value, widget.style.value = content, content, None
    (row,) = evaluated(widget, wait_idle, levels).values()
    assert not levels[0].threads and levels[1].threads  # its 25×38 level is the smallest at least 21×32
    assert row["notes"].startswith("layer read at 21×32 of 50×76")
    assert "SSIM after resizing to 50×76" in row["notes"]
    assert 0 < row["SSIM"] <= 1 and row["KL R"] < 0.05
