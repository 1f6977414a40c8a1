"""Mask files read one way for every command; shapes and labels checked, never stretched."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from nst_engine.errors import ImageError
from nst_engine.masks import read_mask, style_masks


@pytest.fixture
def labels():
    plane = np.zeros((6, 8), np.uint8)
    plane[:, :4], plane[:, 4:] = 1, 2
    return plane


def test_a_palette_png_gives_its_indices_not_its_colours(tmp_path, labels):
    image = Image.fromarray(labels, mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    image.save(tmp_path / "labels.png")
    mask = read_mask(tmp_path / "labels.png")
    assert mask.dtype == np.uint8 and np.array_equal(mask, labels)
    regions = style_masks(mask, 2, labels.shape)
    assert regions[0][:, :4].min() == 1 and regions[1][:, 4:].min() == 1


def test_8_and_16_bit_gray_are_labels_and_gray_rgb_is_gray(tmp_path, labels):
    iio.imwrite(tmp_path / "l8.png", labels)
    iio.imwrite(tmp_path / "l16.png", labels.astype(np.uint16) * 300)
    iio.imwrite(tmp_path / "rgb.png", np.repeat(labels[..., None], 3, axis=-1))
    assert np.array_equal(read_mask(tmp_path / "l8.png"), labels)
    assert read_mask(tmp_path / "l16.png").dtype == np.uint16
    assert np.array_equal(read_mask(tmp_path / "rgb.png"), labels)


def test_a_colour_label_image_is_refused(tmp_path, labels):
    colours = np.zeros(labels.shape + (3,), np.uint8)
    colours[labels == 1] = (255, 0, 0)
    iio.imwrite(tmp_path / "c.png", colours)
    with pytest.raises(ImageError, match="is a colour image; save the labels as a gray or palette PNG"):
        read_mask(tmp_path / "c.png")


def test_a_mask_of_another_shape_is_refused_not_stretched(tmp_path, labels):
    iio.imwrite(tmp_path / "l.png", labels)
    with pytest.raises(ImageError, match=r"is 8×6 but the image it controls is 9×6; give a mask of the same size"):
        read_mask(tmp_path / "l.png", shape=(6, 9))
    with pytest.raises(ImageError, match=r"mask is 8×6, another aspect than the image \(16×16\)"):
        style_masks(labels, 2, (16, 16))
    assert style_masks(labels, 2, (12, 16))[0].shape == (12, 16)  # same aspect: resized


def test_labels_without_a_style_image_are_refused_by_name(labels):
    labels[0, 0], labels[1, 1] = 3, 7
    with pytest.raises(ImageError, match=r"labels 3, 7 but there are 2 style images \(labels 1-2, 0 = no style\)"):
        style_masks(labels, 2, labels.shape)
    signed = labels.astype(np.int64)
    signed[0, 0], signed[1, 1] = -1, 1
    with pytest.raises(ImageError, match=r"labels -1 but"):
        style_masks(signed, 2, labels.shape)
