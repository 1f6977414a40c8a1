"""Color spaces: Reinhard's lαβ as published, skimage's CIELab and YIQ, exact round trips."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2lab, rgb2yiq

from nst_engine.color import spaces


def _reinhard_reference(rgb: np.ndarray) -> np.ndarray:
    """Reinhard et al. 2001, eq. (1)-(4), in float64 with log10."""
    to_lms = np.array(
        [[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]]
    )
    lms = rgb @ to_lms.T
    log = np.log10(np.maximum(lms, spaces.LMS_FLOOR))
    mix = np.array([[1, 1, 1], [1, 1, -2], [1, -1, 0]]) / np.sqrt([[3], [6], [2]])
    return log @ mix.T


def test_lab_alpha_beta_is_reinhards(rng):
    rgb = rng.random((50, 3))
    expected = _reinhard_reference(rgb)
    np.testing.assert_allclose(spaces.rgb_to_lab_alpha_beta(rgb), expected, atol=2e-5)


def test_gray_has_no_chroma_in_lab_alpha_beta():
    gray = np.linspace(0.05, 1, 20)[:, None].repeat(3, axis=1)
    lab = spaces.rgb_to_lab_alpha_beta(gray)
    assert np.abs(lab[:, 1:]).max() < 2e-3  # the LMS rows sum to 1 up to rounding


@pytest.mark.parametrize("space", ["lab-alpha-beta", "cielab", "yiq", "rgb"])
def test_round_trip(space, rng):
    rgb = rng.uniform(0.01, 1, size=(30, 20, 3)).astype(np.float32)
    back = spaces.from_space(spaces.to_space(rgb, space), space)
    np.testing.assert_allclose(back, rgb, atol=5e-5)


def test_lab_alpha_beta_inverse_stays_finite_for_wild_values():
    wild = np.array([[1e3, -1e3, 50.0], [-1e4, 1e4, -1e4]], dtype=np.float32)
    assert np.isfinite(spaces.lab_alpha_beta_to_rgb(wild)).all()


def test_cielab_and_yiq_are_skimages(rng):
    rgb = rng.random((10, 10, 3)).astype(np.float32)
    np.testing.assert_allclose(spaces.rgb_to_cielab(rgb), rgb2lab(rgb), atol=1e-3)
    np.testing.assert_allclose(spaces.rgb_to_yiq(rgb), rgb2yiq(rgb), atol=1e-6)


def test_space_parts_compose_to_the_space(rng):
    rgb = rng.random((40, 3)).astype(np.float32)
    for space in ("lab-alpha-beta", "cielab", "yiq", "rgb"):
        parts = spaces.space_parts(space)
        phi = rgb if parts.forward is None else parts.forward(rgb)
        np.testing.assert_allclose(phi @ parts.linear().T, spaces.to_space(rgb, space), atol=1e-4)


def test_unknown_space_is_named():
    with pytest.raises(ValueError, match="hsv"):
        spaces.to_space(np.zeros((1, 3)), "hsv")
