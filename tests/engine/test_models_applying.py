"""ModelRun and iter_apply_frames: batches equal single images, color modes, alpha, resume from a sink."""

from __future__ import annotations

import numpy as np
import pytest
from frame_sinks import MemorySink

from nst_engine.color.spaces import rgb_to_yiq, yiq_to_rgb
from nst_engine.errors import OptionError
from nst_engine.models import adain, johnson
from nst_engine.models.applying import ModelRun, apply_frames, apply_image, iter_apply_frames

FRAMES = np.random.default_rng(0).random((5, 18, 22, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def model():
    return johnson(seed=3)


def test_frames_in_batches_equal_model_apply_frame_by_frame(model):
    result = apply_frames(model, FRAMES, batch_size=2)
    assert len(result.frames) == 5 and result.provenance["batch_size"] == 2
    for frame, out in zip(FRAMES, result.frames):
        np.testing.assert_allclose(out, model.apply(frame), atol=1e-5)


def test_a_sink_is_resumed_from_and_other_options_are_not_reused(model):
    sink = MemorySink()
    apply_frames(model, FRAMES, sink=sink)
    events = list(iter_apply_frames(model, FRAMES, sink=sink, batch_size=3))
    assert [e.reused for e in events] == [True] * 5 and [e.frame for e in events] == list(range(5))
    events = list(iter_apply_frames(model, FRAMES, sink=sink, size=16))
    assert not any(e.reused for e in events) and events[0].image.shape == (13, 16, 3)


def test_luminance_keeps_the_contents_chroma_and_the_outputs_luminance(model):
    image = FRAMES[0]
    out = apply_image(model, image, color="luminance")
    plain = model.apply(image)
    yiq = np.concatenate([rgb_to_yiq(plain)[..., :1], rgb_to_yiq(image)[..., 1:]], axis=-1)
    np.testing.assert_allclose(out, np.clip(yiq_to_rgb(yiq), 0, 1), atol=1e-5)


def test_alpha_is_kept_aside_and_reattached(model):
    rgba = np.concatenate([FRAMES[0], np.linspace(0, 1, 18 * 22, dtype=np.float32).reshape(18, 22, 1)], axis=-1)
    out = apply_image(model, rgba)
    assert out.shape == (18, 22, 4) and np.array_equal(out[..., 3], rgba[..., 3])


def test_bad_options_are_refused_before_any_frame(model):
    with pytest.raises(OptionError, match="style_index must be in 0..0"):
        ModelRun(model, style_index=3)
    with pytest.raises(OptionError, match="after:histogram"):
        ModelRun(model, color="before:histogram")
    with pytest.raises(OptionError, match="needs a style image"):
        ModelRun(adain(seed=0))


def test_before_recolours_adains_style_with_each_frames_colors():
    net = adain(seed=0)
    seen = []
    net.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["style"]), with_kwargs=True)
    style = (np.random.default_rng(5).random((20, 20, 3)) * [1.0, 0.2, 0.2]).astype(np.float32)
    content = FRAMES[1]
    apply_image(net, content, style=style, color="before:histogram")
    given = seen[-1][0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(given.mean(axis=(0, 1)), content.mean(axis=(0, 1)), atol=0.03)
    apply_image(net, content, style=style)
    np.testing.assert_allclose(seen[-1][0].permute(1, 2, 0).numpy(), style)
