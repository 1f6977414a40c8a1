"""Temporal blending of a feed-forward model's frames (``temporal_blend``, ``nst apply --temporal-blend``)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from cli_helpers import run
from frame_sinks import MemorySink

from nst_engine.errors import OptionError
from nst_engine.files import write_image
from nst_engine.metrics.temporal import temporal_error
from nst_engine.models import johnson, save_model
from nst_engine.models.applying import apply_frames, iter_apply_frames
from nst_engine.models.coherence import TemporalBlend
from nst_engine.video.synthetic import pan

CLIP = pan(frames=6, size=48, speed=(2.0, 1.0))


def _blended(results, strength):
    blend, out = TemporalBlend(strength), []
    for frame, result in zip(CLIP.frames, results):
        out.append(blend(frame, result))
        blend.remember(frame, out[-1])
    return out


def test_blending_removes_most_of_a_per_frame_flicker_and_keeps_the_frames_where_they_were():
    noise = np.random.default_rng(0)
    flickering = [np.clip(f + noise.normal(0, 0.05, f.shape), 0, 1).astype(np.float32) for f in CLIP.frames]
    blended = _blended(flickering, 0.6)
    plain, calmer = temporal_error(flickering, CLIP.frames).mean, temporal_error(blended, CLIP.frames).mean
    assert calmer < 0.5 * plain
    # Averaged along the motion, the frames come nearer the clean ones, not dragged elsewhere.
    inside = (slice(8, -8), slice(8, -8))
    assert np.abs(blended[-1] - CLIP.frames[-1])[inside].mean() < np.abs(flickering[-1] - CLIP.frames[-1])[inside].mean()
    np.testing.assert_array_equal(blended[0], flickering[0])  # the first frame has nothing to blend with


def test_a_still_result_stays_still_and_strength_zero_is_the_plain_run():
    still = [np.full(f.shape, 0.3, np.float32) for f in CLIP.frames]
    np.testing.assert_allclose(np.stack(_blended(still, 0.9)), np.stack(still), atol=1e-6)
    model = johnson(seed=3)
    plain = apply_frames(model, CLIP.frames).frames
    off = apply_frames(model, CLIP.frames, temporal_blend=0.0)
    assert off.provenance["temporal_blend"] == 0.0
    np.testing.assert_array_equal(np.stack(off.frames), np.stack(plain))
    on = apply_frames(model, CLIP.frames, temporal_blend=0.5)
    assert on.provenance["temporal_blend"] == 0.5 and not np.array_equal(on.frames[3], plain[3])
    np.testing.assert_array_equal(on.frames[0], plain[0])


def test_a_resumed_blended_clip_equals_an_uninterrupted_one_and_a_changed_frame_redoes_the_rest():
    model = johnson(seed=3)
    whole, resumed = MemorySink(sixteen_bit=True), MemorySink(sixteen_bit=True)
    list(iter_apply_frames(model, CLIP.frames, sink=whole, temporal_blend=0.5))
    list(iter_apply_frames(model, CLIP.frames[:3], sink=resumed, temporal_blend=0.5))  # stopped after frame 2
    events = list(iter_apply_frames(model, CLIP.frames, sink=resumed, temporal_blend=0.5))
    assert [e.reused for e in events] == [True] * 3 + [False] * 3
    for index in range(6):
        np.testing.assert_array_equal(resumed.frames[index][1], whole.frames[index][1])
    changed = CLIP.frames.copy()
    changed[1] = changed[1][::-1]
    events = list(iter_apply_frames(model, changed, sink=resumed, temporal_blend=0.5))
    assert [e.reused for e in events] == [True] + [False] * 5  # every later frame was blended from it


@pytest.mark.parametrize("strength", [-0.1, 1.0, 2, "0.5", True])
def test_a_strength_outside_zero_to_one_is_refused(strength):
    with pytest.raises(OptionError, match="temporal_blend must be a number from 0"):
        TemporalBlend(strength)


def test_nst_apply_blends_a_clip_and_refuses_to_blend_single_images(tmp_path, capsys):
    model = save_model(johnson(seed=3), tmp_path / "m.pt")
    clip = tmp_path / "clip.tif"
    tifffile.imwrite(clip, (CLIP.frames * 255).astype(np.uint8), photometric="rgb")
    code, _, err = run(["apply", str(model), str(clip), "-o", str(tmp_path / "out.tif"), "--temporal-blend", "0.5",
                        "-q"], capsys)
    assert code == 0, err
    written = tifffile.imread(tmp_path / "out.tif").astype(np.float32) / 255
    plain = apply_frames(johnson(seed=3), CLIP.frames).frames
    assert written.shape == (6, 48, 48, 3) and np.abs(written[4] - plain[4]).max() > 2 / 255
    frame, still = tmp_path / "frame.png", tmp_path / "still.png"
    write_image(frame, CLIP.frames[0])
    code, _, err = run(["apply", str(model), str(frame), "-o", str(still), "--temporal-blend", "0.5"], capsys)
    assert code == 1 and "--temporal-blend blends the frames of a clip" in err and not still.exists()
