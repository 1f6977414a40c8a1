"""Masks too large for the main thread, or lazy ones: captured unread, made in the worker at the run's size."""

from __future__ import annotations

import threading

import dask
import dask.array as da
import numpy as np
import pytest
from lazy_helpers import Recorded
from napari.layers import Image, Labels, Shapes
from style_helpers import make_configure

from napari_nst import _style_inputs, _workers
from napari_nst._layers import labels_to_content, shapes_to_labels
from napari_nst._style_inputs import capture_mask
from nst_engine.images import resize_to, to_unit_float

pytestmark = pytest.mark.gui

FAST = {"backbone": "random-multiscale", "steps": 3, "size": 38, "scales": 1}
configure = make_configure(FAST)
RUN_HW = (25, 38)  # the content fixture (50×76) at size 38


@pytest.fixture(autouse=True)
def synchronous_dask(fast_previews):
    """Fast previews, and dask reading in the thread that computes (see ``Recorded``)."""
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture
def engine_masks(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """The mask the engine receives for each plane it runs."""
    seen = []
    run = _workers.iter_stylize

    def spy(*args, **kwargs):
        seen.append(kwargs.get("mask"))
        return run(*args, **kwargs)

    monkeypatch.setattr(_workers, "iter_stylize", spy)
    return seen


def run_to_end(widget, wait_idle, notifications) -> dict:
    """The result's napari provenance, once the run is done."""
    assert widget.run() is not None, notifications.errors()
    wait_idle(widget)
    napari_info = widget.output.metadata["nst"]["napari"]
    assert napari_info["state"] == "done", notifications.errors()
    return napari_info


def assert_styled_left_half_only(result: np.ndarray, content: np.ndarray) -> None:
    """Right of the mask (the left half) the result is the content at the run's size; left of it, styled."""
    w = result.shape[1]
    kept = resize_to(to_unit_float(content), result.shape[:2])
    changed = np.abs(result[..., :3] - kept[..., :3])
    np.testing.assert_allclose(changed[:, w // 2 + 2 :], 0.0, atol=1e-6)
    assert changed[:, : w // 2 - 2].mean() > 0.01


def test_a_dask_labels_mask_is_read_in_the_worker_at_the_run_size(
    viewer, images, dock, wait_idle, notifications, engine_masks
) -> None:
    content, style = images
    labels = np.zeros(content.data.shape[:2], np.int32)
    labels[:, : labels.shape[1] // 2] = 1
    recorded = Recorded(labels)
    # Hidden: napari would read what it draws, on the main thread.
    mask = viewer.add_labels(da.from_array(recorded, chunks=(16, 16)), name="lazy region", visible=False,
                             scale=content.scale, translate=content.translate)
    widget = configure(dock("Style Transfer"), content, style, mask=mask)
    recorded.threads.clear()
    napari_info = run_to_end(widget, wait_idle, notifications)
    assert recorded.threads and threading.main_thread() not in recorded.threads
    (received,) = engine_masks
    assert received.shape == widget.output.data.shape[:2] == RUN_HW
    assert napari_info["mask_read"] == {"read": "in the worker", "shape": list(RUN_HW)}
    assert_styled_left_half_only(widget.output.data, content.data)


def test_a_multiscale_labels_mask_is_read_from_its_coarse_level(
    viewer, images, dock, wait_idle, notifications, engine_masks
) -> None:
    content, style = images
    h, w = content.data.shape[:2]
    fine = np.zeros((4 * h, 4 * w), np.int32)  # four label pixels per content pixel
    fine[:, : 2 * w] = 1
    levels = [Recorded(np.ascontiguousarray(fine[::f, ::f])) for f in (1, 2, 4)]
    # Scale 0.5 and edges on the content's: content pixel edges lie at translate - 1 (scale 2).
    mask = viewer.add_labels([da.from_array(level, chunks=(64, 64)) for level in levels], multiscale=True,
                             name="pyramid", visible=False, scale=(0.5, 0.5), translate=(9.25, -4.75))
    widget = configure(dock("Style Transfer"), content, style, mask=mask)
    for level in levels:
        level.threads.clear()
    run_to_end(widget, wait_idle, notifications)
    assert not levels[0].threads and not levels[1].threads and levels[2].threads
    (received,) = engine_masks
    expected = np.zeros(RUN_HW, np.int32)
    expected[:, : RUN_HW[1] // 2] = 1
    np.testing.assert_array_equal(received, expected)
    assert_styled_left_half_only(widget.output.data, content.data)


def test_a_shapes_mask_over_a_large_content_is_rasterised_in_the_worker(
    viewer, images, dock, wait_idle, notifications, engine_masks, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, style = images
    monkeypatch.setattr(_style_inputs, "MASK_ON_MAIN_PIXELS", 1000)  # the 50×76 content counts as large
    threads = []
    to_labels = Shapes.to_labels
    monkeypatch.setattr(Shapes, "to_labels",
                        lambda self, *a, **k: threads.append(threading.current_thread()) or to_labels(self, *a, **k))
    # World coordinates over the content's left half: rows 9..109, columns -5..71 (scale 2, translate (10, -4)).
    rect = np.array([[0.0, -20.0], [0.0, 71.0], [120.0, 71.0], [120.0, -20.0]])
    shapes = viewer.add_shapes([rect], shape_type="rectangle", name="rect")
    widget = configure(dock("Style Transfer"), content, style, mask=shapes)
    napari_info = run_to_end(widget, wait_idle, notifications)
    assert threads and threading.main_thread() not in threads
    (received,) = engine_masks
    assert received.shape == RUN_HW and napari_info["mask_plane"] == "shapes rasterised"
    assert_styled_left_half_only(widget.output.data, content.data)


def test_all_planes_of_a_lazy_labels_stack_take_each_planes_own_mask(
    viewer, images, dock, wait_idle, notifications, engine_masks
) -> None:
    _, style = images
    rng = np.random.default_rng(5)
    stack = viewer.add_image(rng.random((2, 32, 40)).astype(np.float32), name="stack")
    masks = np.zeros((2, 32, 40), np.int32)
    masks[0, :, :20] = 1
    masks[1, :, 20:] = 1
    recorded = Recorded(masks)
    labels = viewer.add_labels(da.from_array(recorded, chunks=(1, 32, 40)), name="per plane", visible=False)
    widget = configure(dock("Style Transfer"), stack, style, mask=labels, size=20)
    widget.planes.value = "all planes"
    recorded.threads.clear()
    napari_info = run_to_end(widget, wait_idle, notifications)
    assert recorded.threads and threading.main_thread() not in recorded.threads
    assert napari_info["mask_plane"] == "each content plane's own"
    assert [m.shape for m in engine_masks] == [(16, 20), (16, 20)]
    np.testing.assert_array_equal(engine_masks[0][:, :10], 1)
    np.testing.assert_array_equal(engine_masks[0][:, 10:], 0)
    np.testing.assert_array_equal(engine_masks[1], 1 - engine_masks[0])


def test_a_lazy_mask_without_its_region_fails_the_run_with_the_fix(
    viewer, images, dock, wait_idle, notifications
) -> None:
    content, style = images
    empty = da.zeros(content.data.shape[:2], dtype=np.int32, chunks=16)
    mask = viewer.add_labels(empty, name="nothing painted", visible=False)
    widget = configure(dock("Style Transfer"), content, style, mask=mask)
    assert widget.run() is not None  # checked in the worker, where it is read
    wait_idle(widget)
    assert any("mask 'nothing painted' is empty (all 0)" in e for e in notifications.errors()), notifications.errors()


@pytest.mark.parametrize("placement", [{"scale": (3.0, 3.2), "translate": (5.0, 1.0)}, {"rotate": 10.0}])
def test_a_labels_mask_made_in_the_worker_at_full_size_is_the_main_threads(placement) -> None:
    content = Image(np.zeros((60, 80), np.uint8), scale=(2, 2), translate=(10, -4))
    data = np.zeros((40, 50), np.int32)
    data[5:20, 10:30], data[25:35, 5:45] = 1, 2
    labels = Labels(data, **placement)
    lazy = capture_mask(labels, content, plane_hw=(60, 80), hw=(60, 80), styles=2, index=())
    np.testing.assert_array_equal(lazy.plane(()), labels_to_content(labels, content, (60, 80), ()))


def test_a_shapes_mask_made_in_the_worker_at_full_size_is_the_main_threads() -> None:
    content = Image(np.zeros((60, 80), np.uint8), scale=(2, 2), translate=(10, -4))
    rect = np.array([[20.0, 0.0], [20.0, 60.0], [60.0, 60.0], [60.0, 0.0]])
    ellipse = np.array([[70.0, 70.0], [70.0, 130.0], [110.0, 130.0], [110.0, 70.0]])
    shapes = Shapes([rect, ellipse], shape_type=["rectangle", "ellipse"])
    lazy = capture_mask(shapes, content, plane_hw=(60, 80), hw=(60, 80), styles=2, index=())
    np.testing.assert_array_equal(lazy.plane(()), shapes_to_labels(shapes, content, (60, 80)))
