"""Style Transfer through the batch API: all planes in parallel, every selected layer, cancel, refusals."""

from __future__ import annotations

import glob
import os
import tempfile
import time

import numpy as np
import pytest
from napari.utils import progress
from style_helpers import make_configure

from napari_nst._qt.style_batch import uses_batch

FAST = {"backbone": "random-multiscale", "steps": 2, "size": 32, "scales": 1}

pytestmark = pytest.mark.gui

configure = make_configure(FAST)


def _batch_folders() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "napari-nst-batch-*")))


def _block_stack(rng: np.random.Generator) -> np.ndarray:
    """Three planes of 4×4-pixel blocks, each plane its own random pattern."""
    return np.kron(rng.random((3, 10, 12)), np.ones((4, 4))).astype(np.float32)


def _best_match(result: np.ndarray, planes: np.ndarray) -> int:
    """The content plane (halved) that a result plane's gray level correlates with best."""
    gray = result.mean(axis=-1).ravel()
    halved = planes.reshape(len(planes), planes.shape[1] // 2, 2, planes.shape[2] // 2, 2).mean(axis=(2, 4))
    return int(np.argmax([np.corrcoef(gray, plane.ravel())[0, 1] for plane in halved]))


def _parallel(widget, workers: int = 1):
    widget.planes.value = "all planes"
    assert widget.warm_start.enabled and widget.warm_start.value  # the in-process run stays the default
    widget.warm_start.value = False
    widget.workers.value = workers
    assert uses_batch(widget)
    return widget


def test_all_planes_in_parallel_on_a_local_cluster(viewer, images, dock, qtbot, wait_idle, fast_previews) -> None:
    _, style = images
    stack = viewer.add_image(_block_stack(np.random.default_rng(3)), name="stack", scale=(4.0, 1.0, 1.0))
    before, folders = stack.data.copy(), _batch_folders()
    widget = _parallel(configure(dock("Style Transfer"), stack, style, size=24), workers=2)
    worker = widget.run()
    assert worker is not None and widget.running and not widget.run_button.enabled
    pbar = widget.batch.pbar
    assert pbar in progress._all_instances and pbar.total == 3  # the activity dock's bar
    wait_idle(widget, timeout=180)
    assert pbar not in progress._all_instances and pbar.n == 3 and "3 done, 0 failed" in pbar.desc

    output = widget.output
    assert output.name == "stack styled (style)" and output.rgb
    assert output.data.shape == (3, 20, 24, 3) and output.scale[0] == 4.0
    assert [_best_match(plane, before) for plane in output.data] == [0, 1, 2]  # each result at its own plane
    nst = output.metadata["nst"]
    assert [p["index"] for p in nst["planes"]] == [[0], [1], [2]]
    assert all(p["status"] == "done" and p["steps_run"] == 2 for p in nst["planes"])
    assert nst["batch"]["api"] == "nst_engine.batching" and nst["batch"]["workers"] == 2
    assert nst["backbone"]["name"] == "random-multiscale" and not nst["cancelled"]
    assert nst["napari"]["state"] == "done" and nst["napari"]["content_planes"] == "all"
    assert "content" not in nst and "style" not in nst  # no temporary file names
    assert widget.status.value.startswith("done: stack styled (style) (3 of 3 jobs on 2 workers")
    assert widget.run_button.enabled and not widget.cancel_button.enabled
    np.testing.assert_array_equal(stack.data, before)
    assert _batch_folders() <= folders


def test_every_selected_layer_and_a_failing_one(viewer, images, dock, wait_idle, fast_previews) -> None:
    content, style = images
    other = viewer.add_image(np.random.default_rng(4).random((30, 36)).astype(np.float32), name="other")
    broken = viewer.add_image(np.full((30, 36), np.nan, np.float32), name="broken", contrast_limits=(0.0, 1.0))
    viewer.layers.selection = {content, other, broken, style}  # the style is left out
    widget = configure(dock("Style Transfer"), content, style)
    widget.reset_choices()
    widget.content.value = widget.content.choices[-1]
    assert repr(widget.content.value) == "every selected layer" and uses_batch(widget)
    assert not widget.warm_start.enabled
    widget.workers.value = 1
    widget.run()
    wait_idle(widget, timeout=180)
    names = [layer.name for layer in viewer.layers]
    assert names[-2:] == ["content styled (style)", "other styled (style)"]
    results = viewer.layers[-2:]
    assert results[0].data.shape[-1] == 3 and results[1].data.shape == (27, 32, 3)
    for result, source in zip(results, ("content", "other"), strict=True):
        assert result.metadata["nst"]["napari"]["content_layer"] == source
    assert widget.status.is_error and "broken" in widget.status.value and "NaN" in widget.status.value
    assert not np.isfinite(broken.data).any()


def test_cancel_stops_the_batch(viewer, images, dock, qtbot, wait_idle, fast_previews) -> None:
    _, style = images
    stack = viewer.add_image(_block_stack(np.random.default_rng(5)), name="stack")
    before, folders = stack.data.copy(), _batch_folders()
    widget = _parallel(configure(dock("Style Transfer"), stack, style, steps=100_000, until="steps"))
    widget.run()
    qtbot.waitUntil(lambda: "jobs on 1 worker" in widget.status.value, timeout=120_000)
    qtbot.wait(500)  # the first plane is running
    cancelled = time.perf_counter()
    widget.cancel()
    assert widget.status.value == "cancelling…" and not widget.cancel_button.enabled
    wait_idle(widget, timeout=60)
    assert time.perf_counter() - cancelled < 20
    assert widget.output is None  # no plane had finished: no layer
    assert widget.status.value.startswith("cancelled: no layer (0 of 3 jobs")
    np.testing.assert_array_equal(stack.data, before)
    assert _batch_folders() <= folders
    assert widget.run_button.enabled


def test_a_masked_batch_is_refused(viewer, images, dock, notifications) -> None:
    _, style = images
    stack = viewer.add_image(np.zeros((2, 20, 20), np.float32), name="stack")
    mask = viewer.add_labels(np.ones((2, 20, 20), np.int32), name="mask")
    widget = _parallel(configure(dock("Style Transfer"), stack, style))
    widget.mask.value = mask
    layers = len(viewer.layers)
    assert widget.run() is None
    assert widget.status.is_error and "mask cannot be used with all planes without a warm start" in widget.status.value
    assert "warm start ticked" in notifications.errors()[-1]
    assert len(viewer.layers) == layers and not widget.running
