"""Guides reach loss terms at each scale; the temporal loss holds a frame to the warped previous result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nst_engine
from nst_engine.errors import OptionError
from nst_engine.guides import check_guides, previous_ref, previous_weight_ref
from nst_engine.losses.temporal import TemporalLoss
from nst_engine.objective import ReferenceImages

QUICK = dict(backbone="random-multiscale", size=32, scales=1, steps=8, seed=0)


def _guides(image: np.ndarray, weight: np.ndarray | float = 1.0, offset: int = 1) -> dict[str, np.ndarray]:
    weights = np.broadcast_to(np.float32(weight), image.shape[:2]).astype(np.float32)
    return {previous_ref(offset): image, previous_weight_ref(offset): weights}


def _temporal_value(image: torch.Tensor, guides: dict[str, torch.Tensor], offsets=(1,)) -> float:
    loss = TemporalLoss(offsets=offsets)
    target = loss.prepare(ReferenceImages(None, guides))
    return float(loss(image, {}, target))


def test_the_temporal_loss_is_zero_when_the_frame_equals_the_warped_previous_result(rng):
    frame = torch.from_numpy(rng.random((1, 3, 16, 20), dtype=np.float32))
    weight = torch.ones(1, 1, 16, 20)
    assert _temporal_value(frame, {previous_ref(1): frame.clone(), previous_weight_ref(1): weight}) == 0.0
    other = torch.from_numpy(rng.random((1, 3, 16, 20), dtype=np.float32))
    expected = float(((frame - other) ** 2).mean())
    assert _temporal_value(frame, {previous_ref(1): other, previous_weight_ref(1): weight}) == pytest.approx(expected)


def test_the_temporal_loss_ignores_pixels_whose_weight_is_zero(rng):
    frame = torch.from_numpy(rng.random((1, 3, 8, 8), dtype=np.float32))
    warped = frame.clone()
    warped[..., :4, :] = 1 - warped[..., :4, :]  # occluded: wrong there, and weighted 0
    weight = torch.ones(1, 1, 8, 8)
    weight[..., :4, :] = 0
    assert _temporal_value(frame, {previous_ref(1): warped, previous_weight_ref(1): weight}) == 0.0


def test_the_long_term_loss_adds_each_offset(rng):
    frame = torch.zeros(1, 3, 8, 8)
    guides = {previous_ref(1): torch.full((1, 3, 8, 8), 0.5), previous_weight_ref(1): torch.ones(1, 1, 8, 8),
              previous_ref(3): torch.full((1, 3, 8, 8), 0.25), previous_weight_ref(3): torch.ones(1, 1, 8, 8)}
    assert _temporal_value(frame, guides, offsets=(1, 3)) == pytest.approx(0.25 + 0.0625)


def test_a_temporal_loss_without_its_guides_names_them(content_image, style_image):
    with pytest.raises(ValueError, match="previous:1.*previous-weight:1"):
        nst_engine.stylize(content_image, style_image, losses={"content": 1, "temporal": 1}, **QUICK)


@pytest.mark.parametrize("offsets", [(), (0,), (1.5,), (True,)])
def test_bad_offsets_are_refused(offsets):
    with pytest.raises(ValueError, match="offsets"):
        TemporalLoss(offsets=offsets)


def test_the_temporal_loss_pulls_the_result_towards_the_guide(content_image, style_image):
    gray = np.full(content_image.shape, 0.5, np.float32)
    free = nst_engine.stylize(content_image, style_image, **QUICK)
    held = nst_engine.stylize(content_image, style_image, losses={"content": 1, "gram": 1e4, "temporal": 1e5},
                              guides=_guides(gray), **QUICK)
    assert np.abs(held.image - 0.5).mean() < 0.5 * np.abs(free.image - 0.5).mean()
    assert held.provenance["options"]["guides"] == [previous_weight_ref(1), previous_ref(1)]


def test_guides_are_resized_with_the_content_to_each_scale(content_image):
    guides = check_guides(_guides(np.zeros(content_image.shape, np.uint8), 1.0), content_image.shape[:2], (12, 16))
    assert guides[previous_ref(1)].shape == (12, 16, 3)
    assert guides[previous_weight_ref(1)].shape == (12, 16)
    assert guides[previous_weight_ref(1)].dtype == np.float32


@pytest.mark.parametrize("guides, message", [
    ({previous_ref(1): np.zeros((10, 10, 3))}, "content's pixel grid"),
    ({"content": np.zeros((48, 64, 3))}, "taken by a built-in"),
    ({previous_ref(1): np.zeros((48, 64, 5))}, "expected H×W"),
    ({previous_ref(1): np.full((48, 64, 3), 2.0)}, r"\[0, 1\]"),
    ("previous", "must map names"),
])
def test_bad_guides_are_refused_before_the_run(content_image, style_image, guides, message):
    with pytest.raises((OptionError, ValueError), match=message):
        nst_engine.stylize(content_image, style_image, guides=guides, **QUICK)
