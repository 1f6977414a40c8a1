"""Closed-form properties: after a transfer the matched statistics equal the reference's."""

from __future__ import annotations

import numpy as np
import pytest

from nst_engine import color
from nst_engine.color.spaces import rgb_to_lab_alpha_beta, rgb_to_yiq


def _pixels(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, image.shape[-1]).astype(np.float64)


def _cov(image: np.ndarray) -> np.ndarray:
    return np.cov(_pixels(image), rowvar=False, bias=True)


def _assert_unclipped(out: np.ndarray) -> None:
    # The identities below hold before clipping; the fixtures keep every result inside.
    assert out.min() > 0 and out.max() < 1


LINEAR = pytest.mark.parametrize(
    "fn", [color.mkl, color.cholesky, color.pca], ids=["mkl", "cholesky", "pca"]
)


@LINEAR
def test_linear_transfers_match_mean_and_covariance(fn, source, reference):
    out = fn(source, reference)
    _assert_unclipped(out)
    np.testing.assert_allclose(_pixels(out).mean(0), _pixels(reference).mean(0), atol=1e-5)
    np.testing.assert_allclose(_cov(out), _cov(reference), atol=2e-6, rtol=1e-4)


@LINEAR
def test_linear_transfers_match_covariance_in_lab_alpha_beta(fn, source, reference):
    out = fn(source, reference, space="lab-alpha-beta")
    lab_out, lab_ref = rgb_to_lab_alpha_beta(out), rgb_to_lab_alpha_beta(reference)
    np.testing.assert_allclose(_cov(lab_out), _cov(lab_ref), atol=1e-5, rtol=1e-3)


def test_mkl_moves_colors_least(source, reference):
    # Monge-Kantorovich: of the maps matching the covariance, MKL displaces colors least.
    moves = {
        fn.__name__: np.mean((_pixels(fn(source, reference)) - _pixels(source)) ** 2)
        for fn in (color.mkl, color.cholesky, color.pca)
    }
    assert moves["mkl"] <= min(moves["cholesky"], moves["pca"]) + 1e-9


def test_reinhard_matches_lab_alpha_beta_mean_and_std(source, reference):
    out = color.reinhard(source, reference)
    _assert_unclipped(out)
    lab_out = _pixels(rgb_to_lab_alpha_beta(out))
    lab_ref = _pixels(rgb_to_lab_alpha_beta(reference))
    np.testing.assert_allclose(lab_out.mean(0), lab_ref.mean(0), atol=1e-4)
    np.testing.assert_allclose(lab_out.std(0), lab_ref.std(0), rtol=1e-3)


def test_mean_std_matches_rgb_mean_and_std(source, reference):
    out = color.mean_std(source, reference)
    _assert_unclipped(out)
    np.testing.assert_allclose(_pixels(out).mean(0), _pixels(reference).mean(0), atol=1e-5)
    np.testing.assert_allclose(_pixels(out).std(0), _pixels(reference).std(0), rtol=1e-4)


def test_reinhard_in_rgb_is_mean_std(source, reference):
    np.testing.assert_allclose(
        color.reinhard(source, reference, space="rgb"), color.mean_std(source, reference), atol=1e-6
    )


def test_luminance_matches_luma_and_keeps_chroma(source, reference):
    out = color.luminance(source, reference)
    yiq_out, yiq_src, yiq_ref = (_pixels(rgb_to_yiq(im)) for im in (out, source, reference))
    assert yiq_out[:, 0].mean() == pytest.approx(yiq_ref[:, 0].mean(), abs=1e-5)
    assert yiq_out[:, 0].std() == pytest.approx(yiq_ref[:, 0].std(), rel=1e-4)
    np.testing.assert_allclose(yiq_out[:, 1:], yiq_src[:, 1:], atol=1e-5)


def test_luminance_histogram_matches_sorted_luma(rng):
    # Distinct luma values on equal-size images: the sorted luma becomes the reference's.
    gray = rng.permutation(np.arange(900) * 70 + 100).astype(np.float32) / 65535
    source = np.repeat(gray.reshape(30, 30, 1), 3, axis=2)
    reference = np.repeat(rng.random((30, 30, 1), dtype=np.float32), 3, axis=2)
    out = color.luminance(source, reference, match="histogram")
    np.testing.assert_allclose(
        np.sort(out[..., 0].ravel()), np.sort(reference[..., 0].ravel()), atol=1e-5
    )


def test_histogram_matches_sorted_channels_exactly(rng):
    # Source values distinct on the 2^16 ranking levels, images of equal size.
    levels = np.stack([rng.permutation(np.arange(1200) * 50 + 7) for _ in range(3)], axis=-1)
    source = (levels / 65535).astype(np.float32).reshape(30, 40, 3)
    reference = rng.random((40, 30, 3), dtype=np.float32)
    out = color.histogram(source, reference)
    np.testing.assert_array_equal(np.sort(_pixels(out), 0), np.sort(_pixels(reference), 0))


def test_histogram_keeps_ties_and_order(rng):
    source = rng.integers(0, 8, size=(20, 20, 3)).astype(np.uint8) * 30
    reference = rng.integers(0, 256, size=(25, 16, 3)).astype(np.uint8)
    out = color.histogram(source, reference)
    for c in range(3):
        order = np.argsort(source[..., c].ravel(), kind="stable")
        mapped = out[..., c].ravel()[order]
        assert np.all(np.diff(mapped.astype(int)) >= 0)  # monotone
        for value in np.unique(source[..., c]):
            assert len(np.unique(out[..., c][source[..., c] == value])) == 1  # ties stay tied


def test_histogram_of_unequal_sizes_matches_quantiles(rng, source, reference):
    out = color.histogram(source, reference)
    q = np.linspace(0.02, 0.98, 25)
    np.testing.assert_allclose(
        np.quantile(_pixels(out), q, axis=0), np.quantile(_pixels(reference), q, axis=0), atol=0.01
    )


def test_idt_converges_to_reference_marginals(source, reference):
    out = color.idt(source, reference)
    q = np.linspace(0.02, 0.98, 25)
    np.testing.assert_allclose(
        np.quantile(_pixels(out), q, axis=0), np.quantile(_pixels(reference), q, axis=0), atol=0.01
    )


@pytest.mark.parametrize("fn", [color.reinhard, color.mkl], ids=["reinhard", "mkl"])
def test_large_references_give_statistics_from_a_sample(fn, monkeypatch, source, reference):
    from nst_engine.color import _affine

    exact = fn(source, reference)
    monkeypatch.setattr(_affine, "REFERENCE_SAMPLES", reference.shape[0] * reference.shape[1] // 4)
    sampled = fn(source, reference)
    assert 0 < np.abs(sampled - exact).max() < 0.02
    np.testing.assert_array_equal(sampled, fn(source, reference))  # the sample is seeded


def _flat_image(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """uint8 RGB with large flat areas: a blurred field quantised to 6 levels per channel."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.normal(size=(*shape, 3)), sigma=(1.5, 1.5, 0))
    levels = np.digitize(field, np.quantile(field, [0.2, 0.4, 0.6, 0.8, 0.9]))
    return (levels * 40).astype(np.uint8)


def test_exact_histogram_gives_a_flat_image_the_reference_histogram(rng):
    # Coltuc et al. 2006: ties broken by local means, so even 6 source levels per channel
    # take all of the reference's values; the default keeps each level one value.
    source = _flat_image(rng, (30, 40))
    reference = rng.integers(0, 256, size=(40, 30, 3)).astype(np.uint8)
    exact = color.histogram(source, reference, exact=True)
    default = color.histogram(source, reference)
    for c in range(3):
        assert len(np.unique(default[..., c])) <= 6
        hist = np.bincount(exact[..., c].ravel(), minlength=256)
        np.testing.assert_array_equal(hist, np.bincount(reference[..., c].ravel(), minlength=256))
        # Still monotone in the source's values.
        order = np.argsort(source[..., c].ravel(), kind="stable")
        assert np.all(np.diff(np.sort(exact[..., c].ravel()[order])) >= 0)
        for low, high in zip(np.unique(source[..., c])[:-1], np.unique(source[..., c])[1:]):
            assert exact[..., c][source[..., c] == low].max() <= exact[..., c][source[..., c] == high].min()


def test_exact_histogram_with_a_source_mask_matches_the_masked_pixels(rng):
    source = _flat_image(rng, (30, 40))
    reference = rng.integers(0, 256, size=(40, 30, 3)).astype(np.uint8)
    mask = np.zeros((30, 40), bool)
    mask[:, :20] = True
    out = color.histogram(source, reference, exact=True, source_mask=mask)
    q = np.linspace(0.05, 0.95, 10)
    np.testing.assert_allclose(np.quantile(out[mask], q, axis=0), np.quantile(reference.reshape(-1, 3), q, axis=0),
                               atol=8)
    assert out[~mask].std() > 10  # the rest is recoloured too


def test_exact_histogram_keeps_pixels_with_equal_neighbourhoods_equal(rng):
    constant = np.full((20, 20, 3), 90, np.uint8)
    reference = rng.integers(0, 256, size=(10, 10, 3)).astype(np.uint8)
    out = color.histogram(constant, reference, exact=True)
    assert len(np.unique(out.reshape(-1, 3), axis=0)) == 1
    with pytest.raises(ValueError, match="exact"):
        color.histogram(constant, reference, exact="yes")
