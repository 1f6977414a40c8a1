"""The flicker metric: zero for results that move with the input, high for noise, refused when mismatched."""

from __future__ import annotations

import numpy as np
import pytest

from nst_engine.errors import ImageError
from nst_engine.metrics.temporal import temporal_error
from nst_engine.video.synthetic import pan


def test_results_that_move_with_the_input_do_not_flicker_and_noise_does(rng):
    clip = pan(frames=4, size=48, speed=(2, 0))
    moving = temporal_error(clip.frames, clip.frames)  # the input itself moves exactly with its flow
    noise = temporal_error(rng.random(clip.frames.shape, dtype=np.float32), clip.frames)
    assert moving.mean < 1e-3 and len(moving.per_frame) == 3
    assert noise.mean > 100 * moving.mean


def test_mismatched_frame_counts_are_refused():
    frames = np.zeros((3, 16, 16, 3), np.float32)
    with pytest.raises(ImageError, match="3 result frames but 2"):
        temporal_error(frames, frames[:2])
    with pytest.raises(ImageError, match="at least 2"):
        temporal_error(frames[:1], frames[:1])
