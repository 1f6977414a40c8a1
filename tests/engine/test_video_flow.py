"""Optical flow recovers known motion; the consistency weights find what the previous frame did not show."""

from __future__ import annotations

import numpy as np
import pytest

from nst_engine.video.flow import FLOW_METHODS, flow_pair, optical_flow, warp
from nst_engine.video.occlusion import consistency_weights, long_term_weights
from nst_engine.video.synthetic import moving_square, pan


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_flow_on_a_synthetic_translation_recovers_the_shift_within_half_a_pixel(method):
    clip = pan(frames=2, size=96, speed=(3, 1))
    flow = optical_flow(clip.frames[1], clip.frames[0], method=method)
    interior = (slice(12, -12), slice(12, -12))
    error = np.abs(flow[interior] - clip.backward_flow[1][interior]).mean(axis=(0, 1))
    assert (error < 0.5).all(), error


def test_warping_the_previous_frame_by_the_backward_flow_gives_this_frame():
    clip = pan(frames=2, size=64, speed=(2, 3))
    warped = warp(clip.frames[0], clip.backward_flow[1])
    assert np.abs(warped - clip.frames[1])[:-4, :-4].max() < 1e-5
    assert warp(clip.frames[0][..., 0], clip.backward_flow[1]).shape == (64, 64)


def _true_forward_flow(size: int, side: int, left: int, speed: int) -> np.ndarray:
    top = (size - side) // 2
    forward = np.zeros((size, size, 2), np.float32)
    forward[top:top + side, left:left + side, 0] = speed
    return forward


def test_weights_are_zero_on_disoccluded_pixels_of_a_moving_square_and_one_elsewhere():
    size, side, speed = 96, 32, 4
    clip = moving_square(frames=2, size=size, side=side, speed=speed)
    forward = _true_forward_flow(size, side, 4, speed)
    weights = consistency_weights(forward, clip.backward_flow[1])
    hidden = clip.disoccluded[1]
    assert hidden.sum() == side * speed
    assert (weights[hidden] == 0).all()
    top, left = (size - side) // 2, 4 + speed
    near_edge = np.zeros((size, size), bool)
    near_edge[top - 2:top + side + 2, left - 2:left + side + 2] = True
    near_edge[top + 2:top + side - 2, left + 2:left + side - 2] = False
    assert (weights[~hidden & ~near_edge] == 1).all()


def test_a_pan_loses_only_the_strip_that_enters_the_frame():
    clip = pan(frames=2, size=64, speed=(3, 0))
    forward, backward = -clip.backward_flow[1], clip.backward_flow[1]
    weights = consistency_weights(forward, backward)
    assert (weights[:, -3:] == 0).all() and (weights[:, :-3] == 1).all()


def test_long_term_weights_count_each_pixel_once_from_the_nearest_frame():
    near, far = np.array([[1.0, 0.0, 0.0]], np.float32), np.array([[1.0, 1.0, 0.0]], np.float32)
    first, second = long_term_weights([near, far])
    np.testing.assert_array_equal(first, near)
    np.testing.assert_array_equal(second, [[0.0, 1.0, 0.0]])


def test_frames_of_different_sizes_and_unknown_methods_are_refused():
    with pytest.raises(ValueError, match="one size"):
        optical_flow(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="dis"):
        optical_flow(np.zeros((8, 8)), np.zeros((8, 8)), method="farneback")


def test_any_image_type_is_accepted(rng):
    gray8 = (rng.random((32, 32)) * 255).astype(np.uint8)
    rgba = np.dstack([gray8] * 3 + [np.full_like(gray8, 255)])
    forward, backward = flow_pair(gray8, rgba)
    assert forward.shape == backward.shape == (32, 32, 2) and forward.dtype == np.float32
