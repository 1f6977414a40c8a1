"""All planes of a time series with temporal coherence in the Style Transfer widget."""

from __future__ import annotations

import numpy as np
import pytest
from style_helpers import make_configure

from nst_engine.video.synthetic import pan

pytestmark = pytest.mark.gui

configure = make_configure({"backbone": "random-multiscale", "steps": 4, "size": 24, "scales": 1})


@pytest.fixture
def clip(viewer):
    frames = (pan(frames=3, size=32, speed=(2.0, 0.0)).frames * 255).astype(np.uint8)
    return viewer.add_image(frames, name="clip", rgb=True, axis_labels=("t", "y", "x"))


def test_temporal_coherence_is_on_for_a_time_axis_and_off_for_other_stacks(viewer, images, clip, dock) -> None:
    _, style = images
    widget = configure(dock("Style Transfer"), clip, style)
    assert widget.temporal.value and not widget.temporal.enabled  # the current plane: nothing to hold to
    widget.planes.value = "all planes"
    assert widget.temporal.enabled
    widget.warm_start.value = False  # planes in parallel: no previous result to start from
    assert not widget.temporal.enabled
    widget.warm_start.value = True
    z_stack = viewer.add_image(np.zeros((3, 16, 16), np.float32), name="z stack")
    widget.content.value = z_stack
    assert not widget.temporal.value
    widget.temporal.value = True  # the user's choice stands while the content stays
    widget.planes.value = "all planes"
    assert widget.temporal.value and widget.temporal.enabled


def test_a_clip_runs_frame_by_frame_and_the_sliders_follow(viewer, images, clip, dock, qtbot, wait_idle,
                                                           fast_previews) -> None:
    _, style = images
    before = clip.data.copy()
    widget = configure(dock("Style Transfer"), clip, style)
    widget.planes.value = "all planes"
    viewer.dims.set_point(0, 0)
    widget.run()
    qtbot.waitUntil(lambda: widget.status.value.startswith("frame 3/3 · step"), timeout=120_000)
    wait_idle(widget, timeout=120)
    output = widget.output
    assert output.data.shape == (3, 24, 24, 3) and output.data.reshape(3, -1).any(axis=1).all()
    nst = output.metadata["nst"]
    assert nst["video"]["coherence"] == "temporal" and nst["video"]["frames_done"] == 3
    assert nst["napari"]["temporal_coherence"] is True and nst["napari"]["state"] == "done"
    assert widget.status.value.startswith("done") and "3 of 3 frames" in widget.status.value
    assert viewer.dims.current_step[0] == 2  # the sliders went along to the last frame worked on
    np.testing.assert_array_equal(clip.data, before)


def test_a_mask_is_refused_with_the_fix(viewer, images, clip, dock, notifications) -> None:
    _, style = images
    labels = viewer.add_labels(np.ones((3, 32, 32), np.int32), name="where")
    widget = configure(dock("Style Transfer"), clip, style, mask=labels)
    widget.planes.value = "all planes"
    assert widget.run() is None
    assert "temporal coherence takes no mask" in notifications.errors()[-1]
    assert "untick temporal coherence" in notifications.errors()[-1]
