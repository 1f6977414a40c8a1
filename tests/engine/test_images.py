"""Image conversions at the engine boundary: every dtype and layout, inputs never touched."""

import numpy as np
import pytest

from nst_engine.errors import ImageError
from nst_engine.images import merge_alpha, resize_max_side, split_image, to_uint


@pytest.mark.parametrize(
    "image, expected",
    [
        (np.full((4, 5), 255, np.uint8), 1.0),
        (np.full((4, 5, 3), 65535, np.uint16), 1.0),
        (np.full((4, 5, 3), 32768, np.uint16), 32768 / 65535),
        (np.full((4, 5, 1), 0.25, np.float64), 0.25),
        (np.ones((4, 5), bool), 1.0),
        (np.full((4, 5, 3), 255), 1.0),  # numpy's default int64 holding 8-bit data
        (np.full((4, 5), 51, np.int32), 51 / 255),  # an int32 TIFF with values 0-255
        (np.full((4, 5), 1000, np.int32), 1000 / 65535),
        (np.full((4, 5), 65535, np.int64), 1.0),
    ],
)
def test_any_dtype_becomes_float32_rgb_in_unit_range(image, expected):
    rgb, alpha = split_image(image)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.float32 and alpha is None
    assert np.allclose(rgb, expected)


def test_rgba_alpha_is_kept_aside_and_reattached():
    image = np.zeros((3, 4, 4), np.uint8)
    image[..., 3] = 128
    rgb, alpha = split_image(image)
    assert rgb.shape == (3, 4, 3) and np.allclose(alpha, 128 / 255)
    merged = merge_alpha(rgb, alpha)
    assert merged.shape == (3, 4, 4) and np.allclose(merged[..., 3], 128 / 255)
    assert merge_alpha(np.zeros((6, 8, 3), np.float32), alpha).shape == (6, 8, 4)


def test_gray_alpha_two_channels():
    rgb, alpha = split_image(np.stack([np.full((2, 2), 10, np.uint8), np.full((2, 2), 255, np.uint8)], -1))
    assert np.allclose(rgb, 10 / 255) and np.allclose(alpha, 1.0)


def test_inputs_are_never_modified_and_read_only_inputs_work():
    image = np.linspace(0, 1, 48, dtype=np.float32).reshape(4, 4, 3)
    image.flags.writeable = False
    before = image.copy()
    rgb, _ = split_image(image)
    rgb[:] = 0
    assert np.array_equal(image, before)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((2, 3, 4, 5)), "expected H×W"),
        (np.zeros((4, 4, 5)), "expected H×W"),
        (np.full((4, 4), 2.5), r"values in \[2.5, 2.5\]; expected \[0, 1\]. Rescale"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), -3, np.int16), r"int16 with values in \[-3, -3\].*Rescale it to 0-255, or to floats"),
        (np.full((4, 4), 70000, np.int64), r"values in \[70000, 70000\].*0-65535"),
        (np.full((4, 4), np.inf, np.float32), "NaN or Inf; replace them"),
        (np.zeros((4, 4), complex), "integer, bool or float"),
        (np.zeros((0, 4, 3)), "empty"),
    ],
)
def test_bad_images_get_errors_that_say_the_fix(image, message):
    with pytest.raises(ImageError, match=message):
        split_image(image)


def test_resize_keeps_aspect_and_range():
    image = np.random.default_rng(0).random((30, 60, 3)).astype(np.float32)
    out = resize_max_side(image, 20)
    assert out.shape == (10, 20, 3) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert resize_max_side(image, None).shape == image.shape


def test_to_uint_rounds_instead_of_truncating():
    assert to_uint(np.array([0.999, 0.5, 1.2, -0.1])).tolist() == [255, 128, 255, 0]
    assert to_uint(np.array([1.0]), np.uint16).tolist() == [65535]
