"""Reading and writing image files: formats, provenance, atomic writes."""

import json
import os

import numpy as np
import pytest

from nst_engine.errors import ImageError
from nst_engine.files import read_image, read_provenance, sidecar_path, write_image


@pytest.fixture
def picture():
    """Smooth, so that JPEG round-trips closely too."""
    rows, cols = np.mgrid[0:12, 0:16]
    return np.stack([rows / 11, cols / 15, (rows + cols) / 26], axis=-1).astype(np.float32)


@pytest.mark.parametrize("suffix, dtype", [(".png", np.uint8), (".jpg", np.uint8), (".tif", np.uint16)])
def test_round_trip_with_provenance(tmp_path, picture, suffix, dtype):
    path = write_image(tmp_path / f"out{suffix}", picture, provenance={"seed": 3})
    back = read_image(path)
    assert back.shape == picture.shape and back.dtype == dtype
    tolerance = 0.03 if suffix == ".jpg" else 1 / 255
    assert np.abs(back / np.iinfo(dtype).max - picture).mean() < tolerance
    assert read_provenance(path) == {"seed": 3}
    assert json.loads(sidecar_path(path).read_text()) == {"seed": 3}


def test_png_carries_provenance_without_its_sidecar(tmp_path, picture):
    path = write_image(tmp_path / "out.png", picture, provenance={"backbone": "random-multiscale"})
    os.remove(sidecar_path(path))
    assert read_provenance(path) == {"backbone": "random-multiscale"}


def test_rgba_png_keeps_alpha(tmp_path):
    image = np.zeros((4, 4, 4), np.float32)
    image[..., 3] = 0.5
    assert read_image(write_image(tmp_path / "a.png", image))[..., 3].tolist() == [[128] * 4] * 4
    with pytest.raises(ImageError, match="JPEG has no alpha"):
        write_image(tmp_path / "a.jpg", image)


def test_an_unwritable_output_path_leaves_nothing_behind(tmp_path, picture):
    # A file where a folder should be: unwritable even for root, unlike chmod.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(ImageError, match="cannot write"):
        write_image(blocker / "out.png", picture, provenance={})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_a_failing_write_leaves_neither_a_partial_file_nor_a_temporary(tmp_path, picture, monkeypatch):
    from PIL import Image

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as stream:
            stream.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_image(tmp_path / "out.png", picture, provenance={})
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_unknown_suffix(tmp_path, picture):
    with pytest.raises(ImageError, match="cannot write"):
        write_image(tmp_path / "nope" / "out.png", picture)
    with pytest.raises(ImageError, match=".png, .jpg or .tif"):
        write_image(tmp_path / "out.bmp", picture)
    with pytest.raises(ImageError, match="no image file"):
        read_image(tmp_path / "missing.png")
