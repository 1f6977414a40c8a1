"""Optical flow, warping and Ruder et al.'s consistency weights on clips with known motion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, binary_erosion, distance_transform_edt

from nst_engine.video import flow, occlusion, synthetic

SIZE = 96
INTERIOR = slice(8, -8)


@pytest.fixture(scope="module")
def pan_clip() -> synthetic.Clip:
    return synthetic.pan(frames=3, size=SIZE, speed=(2.5, -1.5))


@pytest.fixture(scope="module")
def square_clip() -> synthetic.Clip:
    return synthetic.moving_object(frames=3, size=SIZE, speed=(6.0, 4.0))


def _far_from_square_edges(clip: synthetic.Clip, t: int, distance: float) -> np.ndarray:
    edges = np.zeros(clip.disoccluded.shape[1:], dtype=bool)
    for moving in (clip.backward_flow[t], clip.forward_flow[t]):
        mask = np.any(moving != 0, axis=-1)
        edges |= binary_dilation(mask) & ~binary_erosion(mask)
    return (distance_transform_edt(~edges) > distance) & ~clip.disoccluded[t]


@pytest.mark.parametrize("method", flow.FLOW_METHODS)
def test_flow_recovers_a_translation_within_half_a_pixel(pan_clip, method):
    backward = flow.optical_flow(pan_clip.frames[2], pan_clip.frames[1], method=method)
    interior = backward[INTERIOR, INTERIOR].reshape(-1, 2)
    assert backward.dtype == np.float32 and backward.shape == (SIZE, SIZE, 2)
    np.testing.assert_allclose(np.median(interior, axis=0), [2.5, -1.5], atol=0.5)
    error = np.linalg.norm(interior - [2.5, -1.5], axis=-1)
    assert np.mean(error) < 0.5


def test_default_flow_is_accurate_to_a_tenth_of_a_pixel(pan_clip):
    backward = flow.optical_flow(pan_clip.frames[2], pan_clip.frames[1])
    error = np.linalg.norm(backward - pan_clip.backward_flow[2], axis=-1)[INTERIOR, INTERIOR]
    assert np.median(error) < 0.1


def test_warping_the_previous_frame_by_the_true_flow_gives_the_current_one(pan_clip):
    warped = flow.warp(pan_clip.frames[1], pan_clip.backward_flow[2])
    assert warped.dtype == np.float32 and warped.shape == pan_clip.frames[2].shape
    difference = np.abs(warped - pan_clip.frames[2])[INTERIOR, INTERIOR]
    assert difference.mean() < 0.015
    unwarped = np.abs(pan_clip.frames[1] - pan_clip.frames[2])[INTERIOR, INTERIOR]
    assert difference.mean() < unwarped.mean() / 4


def test_warp_keeps_gray_and_many_channel_images():
    rng = np.random.default_rng(0)
    shift = np.zeros((16, 20, 2), np.float32)
    shift[..., 0] = 1.0
    gray = rng.random((16, 20)).astype(np.float64)
    np.testing.assert_allclose(flow.warp(gray, shift)[:, :-1], gray[:, 1:], atol=1e-6)
    features = rng.random((16, 20, 6)).astype(np.float32)
    warped = flow.warp(features, shift)
    assert warped.shape == (16, 20, 6) and warped.dtype == np.float32
    np.testing.assert_allclose(warped[:, :-1], features[:, 1:], atol=1e-6)


@pytest.mark.parametrize(
    "convert",
    [
        lambda rgb: (rgb * 255).round().astype(np.uint8),
        lambda rgb: (rgb * 65535).round().astype(np.uint16),
        lambda rgb: rgb.astype(np.float64),
        lambda rgb: rgb @ np.array([0.299, 0.587, 0.114], np.float32),
        lambda rgb: np.concatenate([rgb, np.ones_like(rgb[..., :1])], axis=-1),
    ],
    ids=["uint8", "uint16", "float64", "gray", "rgba"],
)
def test_any_dtype_and_channel_layout_is_accepted(pan_clip, convert):
    backward = flow.optical_flow(convert(pan_clip.frames[2]), convert(pan_clip.frames[1]))
    np.testing.assert_allclose(
        np.median(backward[INTERIOR, INTERIOR].reshape(-1, 2), axis=0), [2.5, -1.5], atol=0.25
    )


def test_mismatched_frames_are_refused_naming_both_shapes():
    with pytest.raises(ValueError, match=r"\(32, 32, 3\).*\(32, 40, 3\)"):
        flow.optical_flow(np.zeros((32, 32, 3)), np.zeros((32, 40, 3)))
    with pytest.raises(ValueError, match="unknown optical flow method"):
        flow.optical_flow(np.zeros((8, 8)), np.zeros((8, 8)), method="farneback")


def test_flow_pair_is_forward_then_backward(pan_clip):
    forward, backward = flow.flow_pair(pan_clip.frames[1], pan_clip.frames[2])
    interior = (INTERIOR, INTERIOR)
    np.testing.assert_allclose(np.median(forward[interior].reshape(-1, 2), 0), [-2.5, 1.5], atol=0.25)
    np.testing.assert_allclose(np.median(backward[interior].reshape(-1, 2), 0), [2.5, -1.5], atol=0.25)


def test_true_flows_give_zero_exactly_on_disocclusions(square_clip, pan_clip):
    for clip in (square_clip, pan_clip):
        weights = occlusion.consistency_weights(
            clip.forward_flow[2], clip.backward_flow[2], smoothing=0
        )
        assert np.all(weights[clip.disoccluded[2]] == 0)
        assert np.all(weights[_far_from_square_edges(clip, 2, 1)] == 1)


def test_estimated_weights_are_zero_on_disocclusions_and_one_elsewhere(square_clip):
    forward, backward = flow.flow_pair(square_clip.frames[1], square_clip.frames[2])
    weights = occlusion.consistency_weights(forward, backward)
    assert weights.dtype == np.float32 and weights.shape == (SIZE, SIZE)
    assert 0 <= weights.min() and weights.max() <= 1
    disoccluded = square_clip.disoccluded[2]
    assert disoccluded.sum() > 100
    assert np.mean(weights[disoccluded] < 0.5) > 0.95
    assert np.mean(weights[_far_from_square_edges(square_clip, 2, 4)] > 0.5) > 0.95


def test_motion_out_of_the_frame_is_unreliable():
    backward = np.zeros((16, 16, 2), np.float32)
    backward[..., 0] = 3.0
    weights = occlusion.consistency_weights(-backward, backward, smoothing=0)
    assert np.all(weights[:, -3:] == 0) and np.all(weights[:, :-3] == 1)


def test_motion_boundaries_of_the_backward_flow_are_unreliable():
    backward = np.zeros((16, 16, 2), np.float32)
    backward[:, 8:, 1] = 0.4
    forward = -backward
    weights = occlusion.consistency_weights(forward, backward, smoothing=0)
    assert np.all(weights[:-1, 7:9] == 0)
    assert np.all(weights[:-1, :6] == 1) and np.all(weights[:-1, 10:] == 1)


def test_long_term_weights_count_each_pixel_against_its_nearest_reliable_frame():
    nearest = np.array([[1.0, 0.0, 0.0]], np.float32)
    farther = np.array([[1.0, 1.0, 0.0]], np.float32)
    farthest = np.array([[1.0, 1.0, 1.0]], np.float32)
    result = occlusion.long_term_weights([nearest, farther, farthest])
    np.testing.assert_array_equal(result[0], nearest)
    np.testing.assert_array_equal(result[1], [[0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(result[2], [[0.0, 0.0, 1.0]])


def test_synthetic_clips_describe_their_own_motion():
    clip = synthetic.zoom(frames=3, size=32, factor=0.95)
    assert clip.frames.shape == (3, 32, 32, 3) and clip.frames.dtype == np.float32
    assert clip.backward_flow.shape == clip.forward_flow.shape == (3, 32, 32, 2)
    assert not clip.backward_flow[0].any() and not clip.disoccluded[0].any()
    assert clip.disoccluded[1][0].all() and not clip.disoccluded[1][16, 16]
    with pytest.raises(ValueError, match="leaves"):
        synthetic.moving_object(frames=50, size=64, speed=(5.0, 0.0))
