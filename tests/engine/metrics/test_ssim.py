"""SSIM of luminance: 1 for identical images, lower as structure goes."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from nst_engine.metrics import ssim


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.astronaut()[::4, ::4]


def test_identical_is_one(photo):
    assert ssim(photo, photo) == pytest.approx(1.0)
    assert ssim(photo, photo, channel="rgb") == pytest.approx(1.0)


def test_structure_loss_lowers_it(photo):
    rng = np.random.default_rng(0)
    noisy = np.clip(photo / 255 + rng.normal(scale=0.1, size=photo.shape), 0, 1)
    assert ssim(photo, noisy) < 0.8
    assert ssim(photo, noisy) < ssim(photo, np.clip(photo / 255 + 0.02, 0, 1))


def test_luminance_ignores_a_luma_preserving_color_change(photo):
    image = photo / 255.0
    luma = image @ np.array([0.299, 0.587, 0.114])
    gray = np.repeat(luma[..., None], 3, axis=-1)
    assert ssim(image, gray) == pytest.approx(1.0, abs=1e-6)
    assert ssim(image, gray, channel="rgb") < 0.99


def test_dtypes_gray_and_alpha(photo):
    rgba = np.concatenate([photo, np.full(photo.shape[:2] + (1,), 7, np.uint8)], axis=-1)
    assert ssim(photo, rgba) == pytest.approx(1.0)
    assert ssim(photo[..., 0], photo[..., 0] / 255.0) == pytest.approx(1.0)


def test_small_images_use_a_smaller_window():
    rng = np.random.default_rng(1)
    a = rng.random((5, 4, 3))
    assert ssim(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="3×3"):
        ssim(a[:2], a[:2])


def test_bad_input_raises(photo):
    with pytest.raises(ValueError, match="one size"):
        ssim(photo, photo[:-1])
    with pytest.raises(ValueError, match="channel"):
        ssim(photo, photo, channel="hue")
