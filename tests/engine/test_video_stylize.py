"""Frames styled one after another stay coherent along the motion, resume from a sink and cancel cleanly."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nst_engine.errors import OptionError
from nst_engine.metrics.temporal import temporal_error
from nst_engine.video.occlusion import consistency_weights
from nst_engine.video.stylize import iter_stylize_video, stylize_video
from nst_engine.video.synthetic import pan

QUICK = dict(backbone="random-multiscale", size=32, steps=30, frame_steps=10, seed=0)


@pytest.fixture(scope="module")
def clip():
    return pan(frames=5, size=32, speed=(2, 1))


def _known_flows(clip):
    return [(b, consistency_weights(-b, b)) for b in clip.backward_flow[1:]]


def test_temporal_coherence_lowers_the_flicker_of_a_pan_against_independent_frames(clip, style_image):
    independent = stylize_video(clip.frames, style_image, coherence="independent", **QUICK)
    temporal = stylize_video(clip.frames, style_image, coherence="temporal", **QUICK)
    assert len(independent.frames) == len(temporal.frames) == 5
    before = temporal_error(independent.frames, clip.frames, flows=_known_flows(clip)).mean
    after = temporal_error(temporal.frames, clip.frames, flows=_known_flows(clip)).mean
    assert after < 0.3 * before, (after, before)
    video = temporal.provenance["video"]
    assert video["coherence"] == "temporal" and video["frames_done"] == 5 and temporal.provenance["method"] == "ruder"


class _Sink:
    def __init__(self):
        self.frames: dict[int, tuple[np.ndarray, str]] = {}

    def reusable(self, index, key):
        stored = self.frames.get(index)
        return stored[0] if stored and stored[1] == key else None

    def put(self, index, image, key):
        stored = (np.round(image * 255) / 255).astype(np.float32)  # stored at 8 bits: not the frame itself
        self.frames[index] = (stored.copy(), key)  # kept apart, as on disk
        return stored


def test_an_interrupted_run_resumes_from_its_sink_and_a_changed_option_starts_afresh(clip, style_image):
    sink = _Sink()
    events = iter_stylize_video(clip.frames, style_image, sink=sink, **QUICK)
    done = 0
    for event in events:
        done += event.step is None
        if done == 2:
            break
    events.close()  # interrupted after two frames
    assert sorted(sink.frames) == [0, 1]
    resumed = list(iter_stylize_video(clip.frames, style_image, sink=sink, **QUICK))
    reused = [e.frame for e in resumed if e.reused]
    assert reused == [0, 1] and sorted(sink.frames) == [0, 1, 2, 3, 4]
    whole = _Sink()
    stylize_video(clip.frames, style_image, sink=whole, **QUICK)
    for index in range(5):  # the resumed run is the uninterrupted run, bit for bit
        np.testing.assert_array_equal(sink.frames[index][0], whole.frames[index][0])
    changed = list(iter_stylize_video(clip.frames, style_image, sink=sink, **dict(QUICK, seed=1)))
    assert not any(e.reused for e in changed)


def test_a_cancel_returns_only_the_frames_finished(clip, style_image):
    cancel = threading.Event()
    events = iter_stylize_video(clip.frames, style_image, cancel=cancel, **QUICK)
    while True:
        event = next(events)
        if event.frame == 2 and event.step is not None:
            cancel.set()
            break
    try:
        while True:
            next(events)
    except StopIteration as stop:
        result = stop.value
    assert result.cancelled and len(result.frames) == 2


def test_multi_pass_runs_backwards_then_forwards_over_every_frame(clip, style_image):
    events = list(iter_stylize_video(clip.frames[:3], style_image, passes=3, **dict(QUICK, frame_steps=4)))
    ends = [(e.pass_index, e.frame) for e in events if e.step is None]
    assert ends == [(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0), (2, 0), (2, 1), (2, 2)]


@pytest.mark.parametrize("options, message", [
    (dict(coherence="smooth"), "coherence"),
    (dict(long_term=(0,)), "long_term"),
    (dict(losses={"content": 1, "temporal": 1}), "temporal_weight"),
    (dict(init_image=np.zeros((8, 8))), "init_image"),
])
def test_bad_video_options_are_refused_before_any_frame(clip, style_image, options, message):
    with pytest.raises(OptionError, match=message):
        stylize_video(clip.frames, style_image, **{**QUICK, **options})


def test_frames_of_different_sizes_are_refused(style_image):
    with pytest.raises(OptionError, match="frame 1"):
        stylize_video([np.zeros((16, 16, 3)), np.zeros((16, 20, 3))], style_image, **QUICK)


def test_what_comes_into_view_starts_from_the_content_and_the_rest_from_the_warped_result(
        clip, style_image, monkeypatch):
    from nst_engine.video import stylize as video
    from nst_engine.video.flow import flow_pair, warp

    starts = []
    real = video.iter_stylize

    def spy(content, style, **kwargs):
        starts.append((content, kwargs.get("init_image")))
        return real(content, style, **kwargs)

    monkeypatch.setattr(video, "iter_stylize", spy)
    result = stylize_video(clip.frames[:2], style_image, coherence="warped", **QUICK)
    content, start = starts[1]
    forward, backward = flow_pair(starts[0][0], content)
    weights = consistency_weights(forward, backward)
    unseen, seen = weights < 1e-3, weights > 1 - 1e-3
    assert unseen.any() and seen.any()  # the pan brings a strip into view
    np.testing.assert_allclose(start[unseen], content[unseen], atol=1e-3)
    warped = warp(result.frames[0], backward)
    np.testing.assert_allclose(start[seen], warped[seen], atol=1e-3)


def test_a_long_clip_is_never_whole_in_memory_when_its_frames_go_to_a_sink(style_image, monkeypatch):
    import gc
    import weakref

    from nst_engine.video import stylize as video

    inputs, outputs = [], []
    real_resize = video.resize_max_side

    def tracked_resize(image, size):
        out = real_resize(image, size)
        inputs.append(weakref.ref(out))
        return out

    monkeypatch.setattr(video, "resize_max_side", tracked_resize)
    frames = pan(frames=10, size=24, speed=(1, 0)).frames
    sink = _Sink()
    events = iter_stylize_video(frames, style_image, sink=sink, keep_frames=False,
                                **dict(QUICK, size=24, steps=4, frame_steps=2))
    alive = []
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            result = done.value
            break
        if event.image is not None:
            outputs.append(weakref.ref(event.image))
            del event
            gc.collect()
            alive.append((sum(r() is not None for r in inputs), sum(r() is not None for r in outputs)))
    assert result.frames == [] and result.provenance["video"]["frames_done"] == 10 and sorted(sink.frames) == list(range(10))
    assert max(held for held, _ in alive) <= 3 and max(kept for _, kept in alive) <= 2, alive
