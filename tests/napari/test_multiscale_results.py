"""Multiscale results of Color Transfer, the batches and Fast Style (``napari_nst._multiscale``):
levels built in the worker, level 0 the plain result, provenance, saving level 0."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile

from napari_nst import _batch_jobs, _lazy, _multiscale
from napari_nst._batch_jobs import BatchGroup, BatchRequest, batch_job
from napari_nst._lazy import LazyLevels, pyramid
from napari_nst._multiscale import (
    level_shapes,
    multiscale_of,
    result_levels,
    result_pyramid,
)
from napari_nst._qt import fast_style
from napari_nst._qt._common import SELECTED_LAYERS
from napari_nst._settings import RunSettings
from nst_engine.batching import runner
from nst_engine.batching.runner import BatchEvent, BatchResult
from nst_engine.batching.summary import job_record
from nst_engine.files import read_image
from nst_engine.files import write_image as write_output
from nst_engine.images import to_uint, to_unit_float
from nst_engine.models import johnson, save_model

pytestmark = pytest.mark.gui

#: The patched threshold and coarsest side: a 50×76 content is "large", halved to 13×19 (at most 20 px).
ABOVE, TOP = 64, 20


@pytest.fixture
def small_levels(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[bool]]:
    """``small_levels()``: from then on results above 64 px a side are multiscale, halved down to
    20 px; returns the list into which every pyramid built puts whether it ran on the main thread."""
    on_main: list[bool] = []

    def recorded(image, **kwargs):
        on_main.append(threading.current_thread() is threading.main_thread())
        return pyramid(image, **kwargs)

    def enable() -> list[bool]:
        monkeypatch.setattr(_lazy, "MULTISCALE_ABOVE", ABOVE)
        monkeypatch.setattr(_lazy, "PYRAMID_TOP", TOP)
        monkeypatch.setattr(_multiscale, "pyramid", recorded)
        return on_main

    return enable


def _shapes(layer) -> list[tuple[int, ...]]:
    return [tuple(level.shape) for level in layer.data]


def _saved_level_0(viewer, layer, path: Path) -> None:
    """Saving the layer through napari writes its level 0 (a 16-bit TIFF of it)."""
    viewer.layers.selection = {layer}
    viewer.layers.save(str(path), selected=True, plugin="napari-nst")
    level = np.asarray(layer.data[0])
    pixels = tifffile.imread(path)
    assert pixels.shape == level.shape and pixels.dtype == np.uint16
    np.testing.assert_array_equal(pixels, to_uint(to_unit_float(level), np.uint16))


def test_levels_and_the_gray_pyramid(monkeypatch) -> None:
    monkeypatch.setattr(_lazy, "PYRAMID_TOP", TOP)
    monkeypatch.setattr(_lazy, "MULTISCALE_ABOVE", ABOVE)
    assert result_levels((64, 10), np.zeros((64, 10))) == 0 and result_levels((65, 10), None) == 2
    three = LazyLevels("pyramid", (da.zeros((40, 40)), da.zeros((20, 20)), da.zeros((10, 10))))
    assert result_levels((40, 40), three) == 3
    gray = np.random.default_rng(0).random((2, 50, 76)).astype(np.float32)
    levels = result_pyramid(gray, levels=2, rgb=False)
    assert [level.shape for level in levels] == [(2, 50, 76), (2, 25, 38), (2, 13, 19)]
    np.testing.assert_allclose(levels[1], pyramid(gray[..., None], levels=2)[1][..., 0])
    assert level_shapes((50, 76), levels=2) == [level.shape[1:] for level in levels]
    assert level_shapes((20, 20), levels=3) == [(20, 20), (10, 10), (5, 5)]
    assert np.shares_memory(multiscale_of(gray, None, lead=1)[0], gray)
    assert multiscale_of(gray[:, :, :8], None, lead=1) is None


# Color Transfer -------------------------------------------------------------------------------


def _color(viewer, dock, wait_idle, source, reference, *, compare: bool = False):
    widget = dock("Color Transfer")
    widget.source.value, widget.reference.value = source, reference
    widget.method.value = "reinhard"
    widget.compare_all() if compare else widget.apply()
    wait_idle(widget)
    assert not widget.status.is_error, widget.status.value
    return widget, viewer.layers[-1]


def test_color_apply_of_a_large_source_is_multiscale(viewer, images, dock, wait_idle, small_levels,
                                                    tmp_path) -> None:
    content, style = images
    _, plain = _color(viewer, dock, wait_idle, content, style)
    on_main = small_levels()
    _, layer = _color(viewer, dock, wait_idle, content, style)
    assert not plain.multiscale and layer.multiscale and on_main == [False]
    assert _shapes(layer) == [(50, 76, 3), (25, 38, 3), (13, 19, 3)]
    np.testing.assert_array_equal(layer.data[0], plain.data)
    np.testing.assert_allclose(layer.scale, plain.scale)
    np.testing.assert_allclose(layer.translate, plain.translate)
    assert layer.metadata["nst"]["napari"]["multiscale_levels"] == [[50, 76], [25, 38], [13, 19]]
    _saved_level_0(viewer, layer, tmp_path / "recoloured.tif")


def test_color_apply_of_a_multiscale_source_has_its_levels(viewer, images, dock, wait_idle, small_levels) -> None:
    _, style = images
    gray = np.random.default_rng(4).random((40, 48)).astype(np.float32)
    source = viewer.add_image([gray, gray[::2, ::2], gray[::4, ::4]], multiscale=True, name="gray pyramid")
    on_main = small_levels()
    _, layer = _color(viewer, dock, wait_idle, source, style)
    assert layer.multiscale and not layer.rgb and on_main == [False]
    assert _shapes(layer) == [(40, 48), (20, 24), (10, 12)]  # at least the source's three levels, below the top


def test_compare_all_of_a_large_plane_and_keep(viewer, images, dock, wait_idle, small_levels) -> None:
    content, style = images
    on_main = small_levels()
    widget, layer = _color(viewer, dock, wait_idle, content, style, compare=True)
    methods = len(widget.table_rows())
    assert layer.multiscale and on_main == [False]
    assert _shapes(layer) == [(methods, 50, 76, 3), (methods, 25, 38, 3), (methods, 13, 19, 3)]
    assert layer.metadata["nst"]["napari"]["multiscale_levels"] == [[50, 76], [25, 38], [13, 19]]
    row = widget.comparison.position()
    shown = [np.array(level[row]) for level in layer.data]
    kept = widget.keep()
    assert kept.multiscale and _shapes(kept) == [(50, 76, 3), (25, 38, 3), (13, 19, 3)]
    for level, expected in zip(kept.data, shown, strict=True):
        np.testing.assert_array_equal(level, expected)
    assert kept.metadata["nst"]["napari"]["multiscale_levels"] == [[50, 76], [25, 38], [13, 19]]


# Batches --------------------------------------------------------------------------------------


class _Client:
    def nthreads(self) -> dict:
        return {"tcp://worker-1": 1}

    def close(self) -> None:
        pass


@pytest.fixture
def halving_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch API without a cluster: each job's result is its content plane (as RGB) halved."""

    def fake_batch(jobs, *, client, return_images, resume, cancel):
        jobs, records = list(jobs), []
        yield BatchEvent("started", None, 0, 0, 0, len(jobs))
        for job in jobs:
            content = read_image(job.content).astype(np.float32)
            image = (np.repeat(content[..., None], 3, -1) if content.ndim == 2 else content) * 0.5
            write_output(job.output, image, provenance={"steps_run": 1})
            records.append(job_record(job, "done", attempts=1, image=image, seconds=0.1, worker="w"))
            yield BatchEvent("done", records[-1], len(records), 0, 0, len(jobs))
        return BatchResult(records, None)

    monkeypatch.setattr(runner, "batch", fake_batch)
    monkeypatch.setattr(_batch_jobs, "_connect", lambda request, jobs: (_Client(), _Client(), None))


def _every_selected(viewer, widget, layers) -> None:
    viewer.layers.selection = set(layers)
    widget.reset_choices()
    widget.source.value = SELECTED_LAYERS


def test_a_batch_adds_multiscale_results(viewer, images, dock, wait_idle, halving_cluster, small_levels) -> None:
    content, style = images
    small = viewer.add_image(np.zeros((20, 30, 3), np.uint8), name="small", rgb=True)
    widget = dock("Color Transfer")
    widget.reference.value = style
    widget.method.value = "reinhard"
    _every_selected(viewer, widget, [content, small])
    widget.apply()
    wait_idle(widget)
    plain = viewer.layers[-2]
    on_main = small_levels()
    _every_selected(viewer, widget, [content, small])  # the results added were selected
    widget.apply()
    wait_idle(widget)
    assert not widget.status.is_error, widget.status.value
    large, kept_small = viewer.layers[-2:]
    assert on_main == [False] and not plain.multiscale and not kept_small.multiscale
    assert large.multiscale and _shapes(large) == [(50, 76, 3), (25, 38, 3), (13, 19, 3)]
    np.testing.assert_array_equal(large.data[0], plain.data)
    np.testing.assert_allclose(large.scale, plain.scale)
    assert large.metadata["nst"]["napari"]["multiscale_levels"] == [[50, 76], [25, 38], [13, 19]]
    assert "multiscale_levels" not in kept_small.metadata["nst"]["napari"]


def test_a_stylised_gray_stack_in_a_batch_is_an_rgb_pyramid(halving_cluster, small_levels) -> None:
    small_levels()
    stack = np.random.default_rng(1).random((2, 40, 70)).astype(np.float32)
    group = BatchGroup("stack", stack, (0.0, 1.0), ((0,), (1,)), (2,))
    generator = batch_job(BatchRequest("stylize", (group,), (np.zeros((5, 5, 3), np.uint8),), {}))
    try:
        while True:
            next(generator)
    except StopIteration as end:
        (result,) = end.value.results
    assert [level.shape for level in result.image] == [(2, 40, 70, 3), (2, 20, 35, 3), (2, 10, 18, 3)]
    np.testing.assert_allclose(result.image[0][..., 0], stack * 0.5, atol=1e-6)


# Fast Style -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(johnson(seed=0), tmp_path_factory.mktemp("models") / "plain.pth")


@pytest.fixture
def fast_widget(dock, wait_idle, model_file, monkeypatch):
    monkeypatch.setattr(fast_style, "run_settings", lambda: RunSettings(device="cpu"))
    widget = dock("Fast Style")
    widget.model_file.value = model_file
    wait_idle(widget)
    return widget


def _fast(viewer, widget, wait_idle, layer, planes: str):
    widget.content.value = layer
    widget.planes.value = planes
    widget.apply()
    wait_idle(widget)
    assert not widget.status.is_error, widget.status.value
    return viewer.layers[f"{layer.name} fast (plain)"]


def test_fast_style_of_a_large_stack_is_a_multiscale_stack(viewer, fast_widget, wait_idle, small_levels,
                                                           tmp_path) -> None:
    data = np.random.default_rng(2).integers(0, 256, (3, 50, 76, 3), dtype=np.uint8)
    layer = viewer.add_image(data, name="stack", rgb=True, scale=(1.0, 2.0, 2.0))
    viewer.dims.set_point(0, 1)
    plain = np.array(_fast(viewer, fast_widget, wait_idle, layer, "current plane").data)
    on_main = small_levels()
    result = _fast(viewer, fast_widget, wait_idle, layer, "current plane")
    assert result.multiscale and on_main == [False]  # a new layer: napari fixes multiscale at creation
    assert _shapes(result) == [(3, 50, 76, 4), (3, 25, 38, 4), (3, 13, 19, 4)]
    np.testing.assert_array_equal(result.data[0], plain)  # plane 1 done, the others clear
    np.testing.assert_allclose(result.data[1][1, ..., :3], pyramid(plain[1, ..., :3], levels=2)[1])
    assert (result.data[2][1, ..., 3] == 1).all() and not result.data[2][[0, 2]].any()
    nst = result.metadata["nst"]
    assert nst["napari"]["multiscale_levels"] == [[50, 76], [25, 38], [13, 19]] and nst["planes_done"] == [[1]]

    result.opacity = 0.4
    result = _fast(viewer, fast_widget, wait_idle, layer, "all planes")  # the same layer, filled plane by plane
    assert on_main == [False] * 3 and (result.data[2][..., 3] == 1).all()
    assert result.metadata["nst"]["planes_done"] == [[0], [1], [2]]
    _saved_level_0(viewer, result, tmp_path / "stack.tif")

    fast_widget.size.value = 40  # no longer large: a plain layer again, at the same place and look
    index = list(viewer.layers).index(result)
    result = _fast(viewer, fast_widget, wait_idle, layer, "current plane")
    assert not result.multiscale and result.data.shape == (3, 26, 40, 4)
    assert list(viewer.layers).index(result) == index and result.opacity == pytest.approx(0.4)


def test_fast_style_of_a_multiscale_content(viewer, fast_widget, wait_idle, small_levels) -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    layer = viewer.add_image([rgb, rgb[::2, ::2], rgb[::4, ::4]], multiscale=True, rgb=True, name="pyramid")
    on_main = small_levels()
    result = _fast(viewer, fast_widget, wait_idle, layer, "current plane")
    assert result.multiscale and on_main == [False]
    assert _shapes(result) == [(40, 48, 4), (20, 24, 4), (10, 12, 4)]
    assert all((level[..., 3] == 1).all() for level in result.data)
