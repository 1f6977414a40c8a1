"""Large and multiscale layers: captured unread, read reduced in the worker, previews at each scale,
multiscale results (``napari_nst._lazy``)."""

from __future__ import annotations

from collections.abc import Callable

import dask.array as da
import numpy as np
import pytest
from style_helpers import make_configure

from napari_nst._batch_jobs import BatchGroup, BatchRequest, _make_jobs
from napari_nst._color_jobs import ColorJob, color_job
from napari_nst import _lazy
from napari_nst._layers import output_geometry
from napari_nst._lazy import LazyLevels, LazyPlane, halved_hw, lazy_levels, plane_note, pyramid, read_plane
from napari_nst._qt import style_form
from napari_nst._workers import stylize_job

pytestmark = pytest.mark.gui

FAST = {"backbone": "random-multiscale", "steps": 3, "size": 128, "scales": 2}
configure = make_configure(FAST)
SIDE = 2048
CHUNK = 256


class Counted:
    """An array that records every slice read from it (dask reads chunks in its own threads)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.reads: list[tuple[slice, ...]] = []

    def __getitem__(self, key):
        self.reads.append(key)
        return self.array[key]

    def pixels_read(self) -> list[int]:
        """Rows × columns of each read that touched pixels."""
        sizes = [len(range(*key[0].indices(self.shape[0]))) * len(range(*key[1].indices(self.shape[1])))
                 for key in self.reads]
        return [n for n in sizes if n]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A smooth 2048² RGB image (uint8): a gradient with a soft disc."""
    y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    disc = ((y - 0.5) ** 2 + (x - 0.4) ** 2 < 0.1).astype(float)
    return (np.stack([y, x, 0.5 * disc + 0.25], -1) * 255).astype(np.uint8)


def counted_dask(array: np.ndarray) -> tuple[da.Array, Counted]:
    counted = Counted(array)
    return da.from_array(counted, chunks=(CHUNK, CHUNK, 3)), counted


@pytest.fixture
def small_levels(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``small_levels(side)``: previews at the current scale (at most ``side``) above ``side``, and
    multiscale results above 64 px, so that a run of a few hundred pixels shows both."""
    monkeypatch.setattr(_lazy, "MULTISCALE_ABOVE", 64)
    return lambda side: monkeypatch.setattr(style_form, "PREVIEW_FIT_MAX", side)


def test_a_dask_layer_is_captured_unread_and_read_a_chunk_at_a_time(
    viewer, dock, photo, fast_previews, small_levels
) -> None:
    content_data, content_reads = counted_dask(photo)
    style_data, style_reads = counted_dask(np.ascontiguousarray(photo[::-1]))
    content = viewer.add_image(content_data, name="big", rgb=True, contrast_limits=(0, 255))
    style = viewer.add_image(style_data, name="big style", rgb=True, contrast_limits=(0, 255))
    small_levels(64)
    widget = configure(dock("Style Transfer"), content, style, style_scale=0.5)
    content_reads.reads.clear()
    style_reads.reads.clear()

    job, info = widget.make_job()
    assert not content_reads.reads and not style_reads.reads  # the main thread read no pixel
    assert isinstance(job.content, LazyLevels) and isinstance(job.style, LazyPlane)
    assert job.preview_side == 64 and job.multiscale == 2 and job.first_hw == (64, 64)
    assert info["provenance"]["input_scaling"] == {"content": "as is (uint8)", "style": "as is (uint8)"}

    events, result = [], None
    generator = stylize_job(job)
    try:
        while True:
            events.append(next(generator))
    except StopIteration as done:
        result = done.value
    # Every chunk was read (area averaging needs every pixel), but never more than one chunk at once.
    assert max(content_reads.pixels_read()) <= CHUNK * CHUNK
    assert sum(content_reads.pixels_read()) == SIDE * SIDE
    assert max(style_reads.pixels_read()) <= CHUNK * CHUNK
    assert result.inputs["content_read"] == {
        "read": "reduced", "from": [SIDE, SIDE], "level": [SIDE, SIDE], "shape": [128, 128],
        "input_scaling": "as is (uint8)",
    }
    assert result.inputs["style_read"]["shape"] == [64, 64]  # the style's run size: 128 px × style scale 0.5
    assert events[0].step is None and events[0].preview.shape == (64, 64, 3)
    previews = [e for e in events if e.step is not None and e.preview is not None]
    assert {e.step.shape for e in previews} == {(64, 64), (128, 128)}
    # At the current scale (not resized to the result), halved to at most the preview side.
    assert all(e.preview.shape[:2] == halved_hw(e.step.shape, 64) == (64, 64) for e in previews)
    assert [level.shape for level in result.image] == [(128, 128, 3), (64, 64, 3)]


def test_a_multiscale_layer_runs_from_a_reduced_level_to_a_multiscale_result(
    viewer, dock, qtbot, wait_idle, photo, fast_previews, small_levels
) -> None:
    levels = [photo, np.ascontiguousarray(photo[::2, ::2]), np.ascontiguousarray(photo[::4, ::4])]
    counted = [Counted(level) for level in levels]
    content = viewer.add_image([da.from_array(c, chunks=(CHUNK, CHUNK, 3)) for c in counted], name="pyramid",
                               rgb=True, multiscale=True, contrast_limits=(0, 255), scale=(0.5, 0.5))
    style = viewer.add_image(np.ascontiguousarray(photo[::16, ::-16]), name="style", rgb=True)
    small_levels(128)
    widget = configure(dock("Style Transfer"), content, style, size=256, scales=3, steps=9)  # previews at each scale
    shapes = []

    widget.run()
    qtbot.waitUntil(lambda: widget.output is not None, timeout=5_000)
    widget.output.events.data.connect(lambda event: shapes.append(widget.output.data.shape))
    widget.output.opacity = 0.7  # the user's choice during the run is kept by the multiscale layer
    blending = widget.output.blending
    assert widget.output.data.shape == (64, 64, 3)  # the first scale's shape, laid over the content
    wait_idle(widget)

    output = widget.output
    assert output.multiscale and [level.shape for level in output.data] == [(256, 256, 3), (128, 128, 3), (64, 64, 3)]
    geometry = output_geometry(content, (SIDE, SIDE), (256, 256), leading=False)
    np.testing.assert_allclose(output.scale, geometry["scale"])
    np.testing.assert_allclose(output.translate, geometry["translate"])
    assert (128, 128, 3) in shapes  # the finer scales replaced the first scale's preview (256: halved to 128)
    assert (256, 256, 3) not in shapes
    assert [layer.name for layer in viewer.layers] == ["pyramid", "style", output.name]
    assert output.opacity == pytest.approx(0.7) and output.blending == blending
    nst = output.metadata["nst"]["napari"]
    assert nst["state"] == "done" and nst["content_read"]["level"] == [512, 512]
    assert nst["multiscale_levels"] == [[256, 256], [128, 128], [64, 64]]
    # Level 0 was never read (napari's own display reads the level that fits the canvas, level 1 here).
    assert not counted[0].pixels_read()
    assert sum(counted[2].pixels_read()) >= (SIDE // 4) ** 2  # the run's level, read whole once
    np.testing.assert_array_equal(counted[0].array, photo)  # inputs unchanged


def test_read_plane_at_full_size_reads_the_whole_plane(photo) -> None:
    small = photo[:96, :80]
    levels = LazyLevels("small", (da.from_array(small, chunks=(32, 32, 3)),))
    image, how = read_plane(levels, (), size=None)
    np.testing.assert_array_equal(image, small)
    assert how == {"read": "full resolution", "shape": [96, 80]}
    assert read_plane(levels, (), size=200)[1]["read"] == "full resolution"  # larger: the engine upsamples
    plain, none = read_plane(small, (), size=48)
    assert plain is small and none is None  # numpy: as it is, the engine resizes


def test_a_zarr_stack_plane_reads_its_own_plane(tmp_path, viewer) -> None:
    zarr = pytest.importorskip("zarr")
    stored = zarr.open_array(tmp_path / "stack.zarr", mode="w", shape=(3, 256, 192), chunks=(1, 64, 64), dtype="uint16")
    stack = np.arange(3 * 256 * 192, dtype=np.uint16).reshape(3, 256, 192)
    stored[:] = stack
    layer = viewer.add_image(stored, name="zarr", contrast_limits=(0, 65535))
    levels = lazy_levels(layer)
    assert levels.lead == 1 and levels.levels[0].chunks[0] == (1, 1, 1)
    image, how = read_plane(levels, (2,), size=64)
    assert image.dtype == np.uint16 and image.shape == (64, 48) and how["from"] == [256, 192]
    np.testing.assert_allclose(image.mean(), stack[2].mean(), rtol=1e-3)
    assert plane_note(layer, (2,)) == "rescaled from contrast limits [0, 65535] (uint16)"  # from the dtype, unread
    floats = viewer.add_image(da.zeros((2, 64, 64), dtype=np.float32, chunks=32), contrast_limits=(0, 2))
    assert plane_note(floats, (0,)).startswith("read lazily (float32)")


def test_pyramid_halves_to_the_top_and_to_the_content_levels() -> None:
    assert [p.shape for p in pyramid(np.zeros((1500, 900, 3), np.float32))] == [
        (1500, 900, 3), (750, 450, 3), (375, 225, 3)]
    stack = pyramid(np.ones((2, 101, 64, 4), np.float32), levels=3)
    assert [p.shape for p in stack] == [(2, 101, 64, 4), (2, 51, 32, 4), (2, 26, 16, 4)]
    assert all(p.dtype == np.float32 and np.allclose(p, 1.0) for p in stack)


def test_batch_and_color_jobs_read_lazy_inputs_in_the_worker(tmp_path, photo) -> None:
    data, counted = counted_dask(photo)
    content = LazyLevels("big", (data,))
    style = LazyPlane(LazyLevels("style", (da.from_array(photo[:512], chunks=(128, 128, 3)),)), (), (0.0, 255.0))
    request = BatchRequest("stylize", (BatchGroup("big", content, (0.0, 255.0), ((),)),), (style,),
                           {"size": 100, "style_scale": 1.0})
    (_, _, job), = _make_jobs(request, tmp_path)
    import tifffile

    assert tifffile.imread(job.content).shape == (100, 100, 3)
    assert tifffile.imread(job.styles[0]).shape == (25, 100, 3)  # the style at the run's size
    assert max(counted.pixels_read()) <= CHUNK * CHUNK

    reference = LazyPlane(LazyLevels("ref", (da.from_array(photo[:64, :64], chunks=(32, 32, 3)),)), (), (0.0, 255.0))
    small = LazyLevels("small", (da.from_array(photo[:96, :96], chunks=(32, 32, 3)),))
    recolor = ColorJob(small, (0.0, 255.0), reference, ((),), (), (("reinhard", {}),))
    generator = color_job(recolor)
    try:
        while True:
            next(generator)
    except StopIteration as done:
        assert done.value.outcomes[0].image.shape == (96, 96, 3)
