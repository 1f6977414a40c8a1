"""KL divergence of per-channel KDEs: zero, positive, infinite only when deserved, direction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gaussian_kde
from skimage import data

from nst_engine.metrics import kde_on_grid, kl_divergence


@pytest.fixture(scope="module")
def photos() -> tuple[np.ndarray, np.ndarray]:
    return data.astronaut()[::4, ::4], data.coffee()[::4, ::4]


def test_identical_images_give_zero(photos):
    result = kl_divergence(photos[0], photos[0])
    assert result.values == (0.0, 0.0, 0.0) and result.raw == (0.0, 0.0, 0.0)
    assert result.channels == ("R", "G", "B")


def test_different_images_give_positive_finite_values(photos):
    result = kl_divergence(*photos)
    assert all(0 < v < np.inf for v in result.values)
    assert result.values == pytest.approx(result.raw, rel=1e-6)  # nothing for the floor to do


def test_p_is_the_first_argument(photos):
    # KL(P||Q) = sum p log(p/q), P from the first image: compare with the densities.
    p_image, q_image = photos
    result = kl_divergence(p_image, q_image)
    for c in range(3):
        p, _ = kde_on_grid(p_image[..., c].ravel() / 255)
        q, _ = kde_on_grid(q_image[..., c].ravel() / 255)
        assert result.raw[c] == pytest.approx(np.sum(p * np.log(p / q)), rel=1e-6)
    assert kl_divergence(q_image, p_image).values != pytest.approx(result.values, rel=1e-3)


def test_raw_is_infinite_only_where_q_vanishes_under_p():
    black = np.zeros((20, 20, 3), np.uint8)
    white = np.full((20, 20, 3), 255, np.uint8)
    result = kl_divergence(black, white)
    assert result.raw == (np.inf, np.inf, np.inf)
    assert all(np.isfinite(v) and v > 0 for v in result.values)


def test_asymmetry_narrow_against_wide(rng):
    narrow = np.full((30, 30, 3), 0.5, np.float32)
    wide = rng.random((30, 30, 3), dtype=np.float32)
    # Q (wide) covers everywhere P (narrow) has mass: finite. The other way it cannot be.
    assert all(np.isfinite(kl_divergence(narrow, wide).raw))
    assert kl_divergence(wide, narrow).raw == (np.inf, np.inf, np.inf)
    assert all(np.isfinite(kl_divergence(wide, narrow).values))


def test_floor_keeps_values_finite_and_ordered(rng):
    a = np.full((10, 10), 0.2, np.float32)
    b = np.full((10, 10), 0.3, np.float32)
    c = np.full((10, 10), 0.9, np.float32)
    assert kl_divergence(a, b).values[0] < kl_divergence(a, c).values[0] < np.inf


def test_binned_kde_agrees_with_scipy(rng):
    values = np.concatenate([rng.normal(0.3, 0.05, 4000), rng.normal(0.7, 0.1, 6000)]).clip(0, 1)
    density, h = kde_on_grid(values, grid=256)
    kde = gaussian_kde(values, bw_method="scott")
    assert h == pytest.approx(np.sqrt(kde.covariance[0, 0]), rel=1e-9)
    exact = kde(np.linspace(0, 1, 256))
    exact /= exact.sum()
    assert np.abs(density - exact).max() <= 2e-3 * exact.max()


def test_silverman_and_fixed_bandwidths(rng):
    values = rng.random(1000)
    _, scott = kde_on_grid(values)
    _, silverman = kde_on_grid(values, bandwidth="silverman")
    _, fixed = kde_on_grid(values, bandwidth=0.05)
    assert silverman == pytest.approx(scott * (3 / 4) ** (-1 / 5)) and fixed == 0.05
    _, floor = kde_on_grid(np.full(100, 0.5))
    assert floor == pytest.approx(1 / 255)  # a constant channel still has a density


def test_gray_images_and_masks(photos, rng):
    gray_p, gray_q = photos[0][..., 0], photos[1][..., 0]
    assert kl_divergence(gray_p, gray_q).channels == ("gray",)
    mask = np.zeros(gray_p.shape, bool)
    mask[: gray_p.shape[0] // 2] = True
    masked = kl_divergence(gray_p, gray_p, mask_p=mask)
    assert masked.values[0] > 0  # half an image is not the whole
    np.testing.assert_allclose(
        masked.values, kl_divergence(gray_p[mask][None], gray_p).values, rtol=1e-12
    )


def test_alpha_is_ignored_and_transparent_pixels_do_not_count(photos):
    rgb = photos[0]
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    alpha[:10] = 0
    rgba = np.concatenate([rgb, alpha], axis=-1)
    np.testing.assert_allclose(
        kl_divergence(rgba, photos[1]).values, kl_divergence(rgb[10:], photos[1]).values, rtol=1e-12
    )


def test_dtype_does_not_matter(photos):
    p, q = photos
    as_float = kl_divergence(p / 255.0, (q / 255.0).astype(np.float32))
    np.testing.assert_allclose(kl_divergence(p, q).values, as_float.values, rtol=1e-4)


def test_samples_are_seeded(photos):
    p, q = photos
    a = kl_divergence(p, q, samples=2000, seed=1)
    assert a.values == kl_divergence(p, q, samples=2000, seed=1).values
    assert a.values != kl_divergence(p, q, samples=2000, seed=2).values
    assert a.samples == 2000 and a.seed == 1
    np.testing.assert_allclose(a.values, kl_divergence(p, q).values, rtol=0.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mask_p": np.ones((3, 3), bool)}, "mask_p has shape"),
        ({"mask_q": np.zeros((100, 150), bool)}, "selects no"),
        ({"bandwidth": "wide"}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"grid": 1}, "grid"),
        ({"samples": 1}, "samples"),
    ],
)
def test_bad_arguments_raise(kwargs, match, photos):
    with pytest.raises(ValueError, match=match):
        kl_divergence(*photos, **kwargs)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)
