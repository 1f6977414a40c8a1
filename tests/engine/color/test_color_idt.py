"""IDT and regrain: seeds, convergence, grain, and the quality check at a small size."""

from __future__ import annotations

import numpy as np
import pytest
from color_cases import smooth_image
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.transform import resize

from nst_engine import color
from nst_engine.metrics import kl_divergence, ssim


@pytest.fixture(scope="module")
def astronaut_coffee() -> tuple[np.ndarray, np.ndarray]:
    """The quality check's pair (benchmarks/quality_color.py) at 192² instead of 1024²."""
    reference = resize(data.astronaut(), (192, 192), anti_aliasing=True).astype(np.float32)
    source = resize(data.coffee(), (192, 192), anti_aliasing=True).astype(np.float32)
    return source, reference


def test_same_seed_same_result_other_seed_other_result(source, reference):
    first = color.idt(source, reference, seed=3)
    np.testing.assert_array_equal(first, color.idt(source, reference, seed=3))
    assert np.abs(first - color.idt(source, reference, seed=4)).max() > 1e-3


def test_more_iterations_match_the_joint_distribution_better(source, reference):
    def mean_gap(out: np.ndarray) -> float:
        # Distance of the color means along fixed oblique directions, not the color axes
        # (those are matched exactly by the last iteration).
        directions = np.array([[1, 1, 0], [0, 1, -1], [1, -1, 1]]) / np.sqrt([[2], [2], [3]])
        q = np.linspace(0.05, 0.95, 19)
        a = np.quantile(out.reshape(-1, 3) @ directions.T, q, axis=0)
        b = np.quantile(reference.reshape(-1, 3) @ directions.T, q, axis=0)
        return float(np.abs(a - b).mean())

    assert mean_gap(color.idt(source, reference, iterations=20)) < mean_gap(
        color.idt(source, reference, iterations=1)
    )


def test_reference_is_sampled_only_above_the_limit(monkeypatch, source, reference):
    from nst_engine.color import iterative

    full = color.idt(source, reference)
    half = reference.shape[0] * reference.shape[1] // 2
    monkeypatch.setattr(iterative, "REFERENCE_SAMPLES", half)
    sampled = color.idt(source, reference)
    assert 0 < np.abs(full - sampled).mean() < 0.01


def test_quality_targets_at_small_size(astronaut_coffee):
    # The quality check's targets at 1024² are KL <= 0.001 (histogram), 0.003 (idt) and
    # 0.03 (idt + regrain); at 192² the densities come from 27x fewer pixels, so looser.
    source, reference = astronaut_coffee
    for out, bound in (
        (color.histogram(source, reference), 0.003),
        (color.idt(source, reference), 0.005),
        (color.idt(source, reference, regrain=True), 0.06),
    ):
        assert max(kl_divergence(reference, out).values) <= bound


def test_regrain_restores_structure(astronaut_coffee):
    source, reference = astronaut_coffee
    plain = color.idt(source, reference)
    regrained = color.idt(source, reference, regrain=True)
    assert ssim(source, regrained) > ssim(source, plain) + 0.05


@pytest.mark.parametrize(
    "weights", [{}, {"smoothness": 1.0, "shadows": 0.0}], ids=["defaults", "pitie"]
)
def test_regrain_removes_grain_the_transfer_added(weights, rng):
    # A smooth source whose transfer has grain: regrain's output is as smooth as the source.
    source = smooth_image(rng, 96, 96, spread=0.1)
    graded = np.clip(source + rng.normal(scale=0.05, size=source.shape), 0, 1).astype(np.float32)
    regrained = color.regrain(source, graded, **weights)

    def roughness(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image, axis=1)).mean())

    assert roughness(regrained) < 0.5 * roughness(graded)
    assert roughness(regrained) < 1.1 * roughness(source)


def test_regrain_keeps_a_uniform_color_shift(rng):
    # Pitié's energy (no shadow term) has J = T for any T = I + constant.
    source = smooth_image(rng, 64, 80)
    shifted = source + np.float32([0.1, -0.05, 0.02])
    np.testing.assert_allclose(color.regrain(source, shifted, shadows=0), shifted, atol=1e-4)


def test_shadow_term_keeps_a_shift_that_leaves_luminance_alone(rng):
    source = smooth_image(rng, 64, 80, spread=0.05) * np.float32(0.2)  # all in the shadows
    chroma = np.float32([0.1, -0.05, (0.05 * 0.587 - 0.1 * 0.299) / 0.114])
    np.testing.assert_allclose(color.regrain(source, source + chroma), source + chroma, atol=1e-4)


def test_shadow_term_keeps_shadows_a_transfer_crushed(rng):
    # Left half: textured shadows around luma 0.06 that the transfer maps to black; right
    # half: midtones it brightens by 0.15. Pitié's energy (shadows=0) keeps the black; a
    # growing shadow term brings the shadows' luminance back and leaves the midtones shifted.
    luma = np.float32([0.299, 0.587, 0.114])
    texture = gaussian_filter(rng.random((96, 96)), 1.5)
    texture = ((texture - texture.min()) / np.ptp(texture))[..., None].astype(np.float32)
    source = np.empty((96, 96, 3), np.float32)
    source[:, :48] = (0.02 + 0.08 * texture[:, :48]) * np.float32([1.2, 0.9, 0.8])
    source[:, 48:] = (0.3 + 0.3 * texture[:, 48:]) * np.float32([1.1, 1.0, 0.8])
    graded = source.copy()
    graded[:, :48] = 0
    graded[:, 48:] += np.float32(0.15)
    shadows = (slice(8, -8), slice(8, 40))
    errors, similarities = [], []
    for weight in (0, 2, 10, 50):
        out = color.regrain(source, graded, shadows=weight)
        errors.append(float(np.abs(out[shadows] @ luma - source[shadows] @ luma).mean()))
        similarities.append(ssim(source, np.clip(out, 0, 1)))
        if weight <= 10:
            midtones = out[8:-8, 56:-8] - source[8:-8, 56:-8]
            assert float(midtones.mean()) == pytest.approx(0.15, abs=0.015)
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.3 * errors[0]
    assert similarities == sorted(similarities)


def test_shadow_term_raises_structure_at_equal_smoothness(astronaut_coffee):
    source, reference = astronaut_coffee
    without = color.idt(source, reference, regrain=True, regrain_shadows=0)
    default = color.idt(source, reference, regrain=True)
    assert ssim(source, default) > ssim(source, without) + 0.01


def test_idt_passes_its_regrain_weights_on(source, reference):
    plain = color.idt(source, reference)
    for smoothness, shadows in ((1.0, 0.0), (0.3, 5.0)):
        regrained = color.idt(
            source,
            reference,
            regrain=True,
            regrain_smoothness=smoothness,
            regrain_shadows=shadows,
        )
        expected = color.regrain(source, plain, smoothness=smoothness, shadows=shadows)
        np.testing.assert_allclose(regrained, np.clip(expected, 0, 1), atol=1e-5)


def test_regrain_with_zero_smoothness_is_the_graded_image(rng):
    source, graded = smooth_image(rng, 30, 30), smooth_image(rng, 30, 30)
    np.testing.assert_array_equal(color.regrain(source, graded, smoothness=0), graded)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (45, 47), (130, 41)])
def test_regrain_handles_odd_and_tiny_sizes(shape, rng):
    source = rng.random(shape + (3,), dtype=np.float32)
    graded = rng.random(shape + (3,), dtype=np.float32)
    out = color.regrain(source, graded)
    assert out.shape == source.shape and np.isfinite(out).all()


def test_regrain_reads_integer_images_by_their_range(rng):
    source, graded = smooth_image(rng, 20, 24), smooth_image(rng, 20, 24)
    as_uint8 = lambda image: np.round(image * 255).astype(np.uint8)  # noqa: E731
    np.testing.assert_allclose(
        color.regrain(as_uint8(source), as_uint8(graded)),
        color.regrain(as_uint8(source) / np.float32(255), as_uint8(graded) / np.float32(255)),
        atol=1e-6,
    )


def test_regrain_reads_signed_integers_by_the_engine_rule(rng):
    # images.to_unit_float: signed values in 0-255 are 8-bit (by int64's range they were black).
    source, graded = smooth_image(rng, 20, 24), smooth_image(rng, 20, 24)
    as_uint8 = lambda image: np.round(image * 255).astype(np.uint8)  # noqa: E731
    np.testing.assert_allclose(
        color.regrain(as_uint8(source).astype(np.int64), as_uint8(graded).astype(np.int64)),
        color.regrain(as_uint8(source), as_uint8(graded)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "source, graded, options, match",
    [
        (np.zeros((8, 8, 3)), np.zeros((8, 9, 3)), {}, "graded must be the transfer of source"),
        (np.zeros((8, 8)), np.zeros((8, 8)), {}, "H×W×3"),
        (np.full((8, 8, 3), 2.0), np.zeros((8, 8, 3)), {}, r"source has values in \[2, 2\]"),
        (np.zeros((8, 8, 3)), np.full((8, 8, 3), np.nan), {}, "graded .* finite"),
        (np.full((8, 8, 3), -1, np.int16), np.zeros((8, 8, 3)), {}, r"source is int16 .*\[-1, -1\]"),
        (np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), {"shadows": -1.0}, "shadows must be"),
    ],
)
def test_regrain_refuses_what_it_cannot_use(source, graded, options, match):
    with pytest.raises(ValueError, match=match):
        color.regrain(source, graded, **options)
