"""Saving layers through napari's save path with napari-nst's writer: pixels and provenance."""

from __future__ import annotations

import json
from pathlib import Path

import napari
import numpy as np
import pytest
import tifffile
from npe2 import PluginManifest
from PIL import Image

from napari_nst._writer import SaveFailed, write_image_layer
from nst_engine.files import sidecar_path
from nst_engine.images import to_uint

#: What a style transfer result carries (abridged), with the types JSON must cope with.
NST = {
    "backbone": {"name": "random-multiscale", "plugin": "nst_engine", "options": {"layers": ("a", "b")}},
    "steps": 4,
    "seed": 0,
    "seconds": np.float32(0.25),
    "cancelled": False,
    "napari": {"plugin_version": "0.1.0", "content_layer": "content", "style_layers": ["style"], "state": "done"},
}


def _as_json(value: object) -> object:
    """``value`` as it reads back from a JSON file (tuples become lists, numpy scalars strings)."""
    return json.loads(json.dumps(value, default=str))


@pytest.fixture
def result(viewer):
    """A float RGB result in [0, 1] with engine provenance, selected."""
    rng = np.random.default_rng(0)
    layer = viewer.add_image(
        rng.random((24, 32, 3), dtype=np.float32), name="content styled (style)", rgb=True,
        contrast_limits=(0, 1), metadata={"nst": NST},
    )
    viewer.layers.selection = {layer}
    return layer


def test_the_manifest_declares_the_writer() -> None:
    (writer,) = PluginManifest.from_distribution("napari-nst").contributions.writers
    assert writer.command == "napari-nst.write_image" and writer.layer_types == ["image"]
    assert {".png", ".tif", ".tiff"} == set(writer.filename_extensions)


@pytest.mark.gui
def test_a_png_carries_the_layers_provenance(viewer, result, tmp_path: Path) -> None:
    path = tmp_path / "result.png"
    written = viewer.layers.save(str(path), selected=True, plugin="napari-nst")
    assert written == [str(path), str(sidecar_path(path))]
    with Image.open(path) as image:
        chunk = json.loads(image.text["nst"])
        pixels = np.asarray(image)
    assert chunk == _as_json(result.metadata["nst"])
    assert json.loads(sidecar_path(path).read_text()) == _as_json(result.metadata["nst"])
    assert pixels.dtype == np.uint8 and np.array_equal(pixels, to_uint(result.data, np.uint8))


@pytest.mark.gui
def test_a_tiff_is_16_bit_with_the_provenance_in_its_description(result, tmp_path: Path) -> None:
    path = tmp_path / "result.tif"
    napari.save_layers(str(path), [result], plugin="napari-nst")
    with tifffile.TiffFile(path) as tif:
        description = json.loads(tif.pages[0].description)
        pixels = tif.asarray()
    assert description == _as_json(result.metadata["nst"])
    assert json.loads(sidecar_path(path).read_text()) == _as_json(result.metadata["nst"])
    assert pixels.dtype == np.uint16 and np.array_equal(pixels, to_uint(result.data, np.uint16))


@pytest.mark.gui
def test_a_layer_without_provenance_saves_with_a_napari_stub(viewer, tmp_path: Path) -> None:
    gray = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    layer = viewer.add_image(gray, name="plain")
    path = tmp_path / "plain.png"
    napari.save_layers(str(path), [layer], plugin="napari-nst")
    with Image.open(path) as image:
        assert np.array_equal(np.asarray(image), gray)  # integers keep their values
        stub = json.loads(image.text["nst"])
    assert stub["kind"] == "napari_layer" and stub["napari"]["layer"] == "plain"
    assert stub["napari"]["napari_version"] == napari.__version__


@pytest.mark.gui
@pytest.mark.parametrize("shape, rgb", [((4, 20, 30), False), ((2, 20, 30, 3), True)])
def test_a_stack_becomes_a_multi_page_tiff(viewer, tmp_path: Path, shape: tuple[int, ...], rgb: bool) -> None:
    stack = np.random.default_rng(1).random(shape, dtype=np.float32)
    layer = viewer.add_image(stack, name="stack", rgb=rgb, metadata={"nst": NST})
    path = tmp_path / "stack.tiff"
    napari.save_layers(str(path), [layer], plugin="napari-nst")
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == shape[0]  # one page per plane, gray planes not taken for RGB
        assert np.array_equal(tif.asarray(), to_uint(stack, np.uint16))


@pytest.mark.gui
def test_a_stack_as_png_is_a_clear_error_and_writes_nothing(viewer, tmp_path: Path) -> None:
    layer = viewer.add_image(np.zeros((3, 20, 30), np.float32), name="stack")
    with pytest.raises(SaveFailed, match=r"stack .* save it as \.tif"):
        napari.save_layers(str(tmp_path / "stack.png"), [layer], plugin="napari-nst")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.gui
def test_a_missing_folder_is_a_clear_error(viewer, result, tmp_path: Path) -> None:
    with pytest.raises(SaveFailed, match="does not exist"):
        viewer.layers.save(str(tmp_path / "missing" / "result.png"), selected=True, plugin="napari-nst")
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_extension_or_bad_data_writes_nothing(tmp_path: Path) -> None:
    meta = {"name": "x", "rgb": False, "contrast_limits": (0.0, 1.0), "metadata": {}}
    with pytest.raises(SaveFailed, match=r"\.png, \.tif, \.tiff"):
        write_image_layer(str(tmp_path / "x.bmp"), np.zeros((4, 4), np.float32), meta)
    with pytest.raises(SaveFailed, match="NaN"):
        write_image_layer(str(tmp_path / "x.png"), np.full((4, 4), np.nan, np.float32), meta)
    assert list(tmp_path.iterdir()) == []


def test_floats_outside_unit_range_go_through_the_contrast_limits(tmp_path: Path) -> None:
    data = np.array([[-1.0, 0.0], [1.0, 3.0]], np.float32)
    meta = {"name": "x", "rgb": False, "contrast_limits": (0.0, 2.0), "metadata": {}}
    write_image_layer(str(tmp_path / "x.png"), data, meta)
    with Image.open(tmp_path / "x.png") as image:
        assert np.asarray(image).tolist() == [[0, 0], [128, 255]]
        assert "contrast limits [0, 2]" in json.loads(image.text["nst"])["napari"]["data_scaling"]
