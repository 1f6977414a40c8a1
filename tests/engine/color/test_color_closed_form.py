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
