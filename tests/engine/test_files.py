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


@pytest.fixture
def rgb8():
    return np.random.default_rng(0).integers(0, 256, (8, 10, 3), dtype=np.uint8)


def test_cmyk_jpeg_and_tiff_are_read_as_srgb(tmp_path, rgb8):
    from PIL import Image

    for name in ("cmyk.jpg", "cmyk.tif"):
        Image.fromarray(rgb8).convert("CMYK").save(tmp_path / name, quality=100)
        back = read_image(tmp_path / name)
        assert back.shape == (8, 10, 3) and back.dtype == np.uint8
        assert np.abs(back.astype(int) - rgb8).mean() < 2, name


def test_icc_tagged_images_are_converted_or_refused(tmp_path, rgb8):
    from PIL import Image, ImageCms

    def profile(kind):
        return ImageCms.ImageCmsProfile(ImageCms.createProfile(kind)).tobytes()

    rgba = np.dstack([rgb8, np.full(rgb8.shape[:2], 7, np.uint8)])
    Image.fromarray(rgb8).save(tmp_path / "srgb.png", icc_profile=profile("sRGB"))
    Image.fromarray(rgba).save(tmp_path / "srgba.png", icc_profile=profile("sRGB"))
    assert np.array_equal(read_image(tmp_path / "srgb.png"), rgb8)
    assert np.array_equal(read_image(tmp_path / "srgba.png"), rgba)
    Image.fromarray(rgb8).save(tmp_path / "lab.png", icc_profile=profile("LAB"))
    with pytest.raises(ImageError, match="cannot convert the colours of .*lab.png .*save it as sRGB"):
        read_image(tmp_path / "lab.png")
    Image.fromarray(rgb8).convert("LAB").save(tmp_path / "lab.tif")
    with pytest.raises(ImageError, match="a Lab TIFF; save it as RGB"):
        read_image(tmp_path / "lab.tif")


def test_16_bit_png_and_tiff_stay_exact(tmp_path):
    import imageio.v3 as iio
    import tifffile

    gray = (np.arange(12).reshape(3, 4) * 5000).astype(np.uint16)
    iio.imwrite(tmp_path / "g.png", gray)
    rgb = np.arange(36, dtype=np.uint16).reshape(3, 4, 3) * 1800
    tifffile.imwrite(tmp_path / "c.tif", rgb, photometric="rgb")
    assert np.array_equal(read_image(tmp_path / "g.png"), gray) and read_image(tmp_path / "g.png").dtype == np.uint16
    assert np.array_equal(read_image(tmp_path / "c.tif"), rgb)


def test_a_file_that_decodes_too_large_is_refused_from_its_header(tmp_path, monkeypatch):
    import tifffile

    big = tmp_path / "big.tif"
    tifffile.imwrite(big, np.zeros((4, 4), np.uint8))
    with tifffile.TiffFile(big, mode="r+") as tif:  # a 20000² header over a few bytes of data
        for tag in ("ImageWidth", "ImageLength"):
            tif.pages[0].tags[tag].overwrite(20000)
    assert big.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match=r"20000×20000 = 400,000,000 pixels, above the limit of 268,435,456; raise it with NST_MAX_IMAGE_PIXELS"):
        read_image(big)
    small = tmp_path / "small.png"
    write_image(small, np.zeros((30, 40, 3), np.float32))
    with pytest.raises(ImageError, match="above the limit of 1,000"):
        read_image(small, max_pixels=1000)
    monkeypatch.setenv("NST_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(ImageError, match="above the limit of 1,000"):
        read_image(small)
    monkeypatch.setenv("NST_MAX_IMAGE_PIXELS", "1200")
    assert read_image(small).shape == (30, 40, 3)
    monkeypatch.setenv("NST_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ImageError, match="NST_MAX_IMAGE_PIXELS='lots' is not a positive number"):
        read_image(small)


@pytest.mark.parametrize("content, found", [(b"", "it is empty"), (b"hello world", "it starts with b'hell'")])
def test_an_empty_or_foreign_file_gets_one_line(tmp_path, content, found):
    path = tmp_path / "in.png"
    path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        read_image(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and str(path) in message
    assert "expected a PNG, JPEG or TIFF image" in message and found in message


def test_a_truncated_png_gets_one_line(tmp_path, picture):
    path = write_image(tmp_path / "whole.png", picture)
    cut = tmp_path / "cut.png"
    cut.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ImageError, match=r"cannot read .*cut.png: a damaged or unsupported PNG file") as info:
        read_image(cut)
    assert len(str(info.value).splitlines()) == 1
