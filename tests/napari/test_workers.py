"""The worker-side generator of a style transfer: planes, warm start, stop, failures (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_nst._workers import (
    JobResult,
    PlaneEvent,
    RunFailed,
    StyleJob,
    failure_message,
    stylize_job,
)
from nst_engine import errors
from nst_engine.images import resize_to, to_uint

OPTIONS = {"backbone": "random-multiscale", "steps": 3, "size": 24, "scales": 1, "preview_every": 1}


def _drain(gen, stop_at: int | None = None) -> tuple[list[PlaneEvent], JobResult]:
    events, command = [], None
    while True:
        try:
            event = gen.send(command)
        except StopIteration as done:
            return events, done.value
        events.append(event)
        command = "stop" if stop_at is not None and len(events) == stop_at else None


@pytest.fixture
def stack() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((3, 20, 30)) * 255).astype(np.uint8)


def _job(content: np.ndarray, style: np.ndarray, *, planes: bool, **options) -> StyleJob:
    indices = tuple(np.ndindex(content.shape[:1])) if planes else ((1,),)
    return StyleJob(
        content=content, content_limits=(0.0, 255.0), style=style, indices=indices,
        stack_shape=content.shape[:1] if planes else (), out_hw=(16, 24), channels=3,
        options={**OPTIONS, **options},
    )


def test_every_plane_is_stylised_and_warm_started(stack: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_nst import _workers

    seen_init = []
    real = _workers.iter_stylize

    def spy(content, style, **kwargs):
        seen_init.append(kwargs.get("init_image"))
        return real(content, style, **kwargs)

    monkeypatch.setattr(_workers, "iter_stylize", spy)
    style = np.full((12, 12, 3), 200, np.uint8)
    events, result = _drain(stylize_job(_job(stack, style, planes=True)))
    start, events = events[0], events[1:]
    assert start.step is None and start.plane == 0  # the content plane, before any step
    expected = to_uint(resize_to(stack[0] / 255.0, (16, 24)))
    assert start.preview.dtype == np.uint8  # previews are 8-bit: a quarter of the texture to upload
    np.testing.assert_allclose(start.preview[..., 0], expected, atol=1)
    assert [e.plane for e in events] == [0] * 3 + [1] * 3 + [2] * 3
    assert all(e.preview.shape[:2] == (16, 24) for e in events)
    assert result.image.shape == (3, 16, 24, 3) and not result.cancelled
    assert seen_init[0] is None and all(i is not None and i.shape[:2] == (16, 24) for i in seen_init[1:])
    assert [p["index"] for p in result.provenance["planes"]] == [[0], [1], [2]]


def test_stop_keeps_the_partial_stack_and_marks_it(stack: np.ndarray) -> None:
    style = np.full((12, 12, 3), 200, np.uint8)
    events, result = _drain(stylize_job(_job(stack, style, planes=True)), stop_at=5)
    assert len(events) == 5 and result.cancelled and result.provenance["cancelled"]
    assert result.provenance["planes"][-1]["cancelled"] and len(result.provenance["planes"]) == 2
    assert result.image[0].any() and result.image[1].any() and not result.image[2].any()


def test_one_plane_of_a_stack(stack: np.ndarray) -> None:
    _, result = _drain(stylize_job(_job(stack, stack[0], planes=False)))
    assert result.image.shape == (16, 24, 3) and "planes" not in result.provenance


def test_failures_carry_cause_and_fix(stack: np.ndarray) -> None:
    with pytest.raises(RunFailed, match="random-multiscale|weights"):
        _drain(stylize_job(_job(stack, stack[0], planes=False, backbone="vgg19")))
    with pytest.raises(RunFailed, match="no backbone named 'nope'"):
        _drain(stylize_job(_job(stack, stack[0], planes=False, backbone="nope")))


@pytest.mark.parametrize("error", [errors.ImageError, errors.OptionError, errors.PluginError,
                                   errors.ResourceError, errors.WeightsUnavailableError])
def test_the_engines_errors_are_shown_as_the_engine_words_them(error) -> None:
    message = failure_message("Style transfer", error("the loss became NaN at step 3: lower the learning rate"))
    assert message == "Style transfer failed: the loss became NaN at step 3: lower the learning rate"


def test_unexpected_errors_are_not_runtime_errors() -> None:
    message = failure_message("Style transfer", RuntimeError("boom"))
    assert "RuntimeError: boom" in message and "inputs are unchanged" in message
    assert not issubclass(RunFailed, RuntimeError)
    assert "Lower the size" in failure_message("Style transfer", MemoryError())


def _clip_job(**options) -> StyleJob:
    from nst_engine.video.synthetic import pan

    frames = (pan(frames=3, size=24, speed=(2.0, 0.0)).frames * 255).astype(np.uint8)
    return StyleJob(
        content=frames, content_limits=(0.0, 255.0), style=np.full((12, 12, 3), 200, np.uint8),
        indices=tuple(np.ndindex(3)), stack_shape=(3,), out_hw=(24, 24), channels=3,
        options={**OPTIONS, "steps": 6, **options}, temporal=True,
    )


def test_temporal_planes_run_as_one_clip_held_to_the_warped_previous_result(monkeypatch) -> None:
    from nst_engine.video import stylize as video

    seen = []
    real = video.iter_stylize

    def spy(content, style, **kwargs):
        seen.append(kwargs)
        return real(content, style, **kwargs)

    monkeypatch.setattr(video, "iter_stylize", spy)
    events, result = _drain(stylize_job(_clip_job()))
    steps = [e for e in events if e.step is not None]
    assert sorted({e.plane for e in steps}) == [0, 1, 2]
    # Frame 0 runs its 6 steps, each later frame the default 20 (a third of 6, at least 20).
    done = [e.progress for e in steps]
    assert done[-1] == (6 + 2 * 20, 6 + 2 * 20) and done == sorted(done)
    assert seen[0].get("guides") is None and all("guides" in kwargs for kwargs in seen[1:])
    assert all(kwargs["init_image"].shape[:2] == (24, 24) for kwargs in seen[1:])
    assert result.image.shape == (3, 24, 24, 3) and result.image.reshape(3, -1).any(axis=1).all()
    video_info = result.provenance["video"]
    assert video_info["coherence"] == "temporal" and video_info["frames_done"] == 3
    assert "optical flow" in result.provenance["temporal_coherence"] and not result.cancelled


def test_a_stopped_clip_keeps_its_finished_frames() -> None:
    events, result = _drain(stylize_job(_clip_job()), stop_at=10)  # the start frame, 6 steps, 3 of frame 1
    assert result.cancelled and result.provenance["video"]["frames_done"] == 1
    assert result.image[0].any() and not result.image[1].any() and not result.image[2].any()
