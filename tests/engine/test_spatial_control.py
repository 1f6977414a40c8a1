"""Masks, several style images and blend weights, measured on the output."""

import numpy as np
import pytest

from nst_engine.errors import ImageError, OptionError
from nst_engine.masks import style_masks
from nst_engine.pipeline import iter_stylize, stylize


@pytest.fixture
def red_and_blue():
    rng = np.random.default_rng(0)
    red = np.zeros((64, 64, 3), np.float32)
    red[..., 0] = 0.8 + 0.2 * rng.random((64, 64))
    blue = np.zeros((64, 64, 3), np.float32)
    blue[..., 2] = 0.8 + 0.2 * rng.random((64, 64))
    return red, blue


def _run(content, styles, fast, **options):
    # Adam: steadier than L-BFGS on these flat synthetic styles, so the test measures the
    # weights and masks rather than the optimizer's path.
    settings = {**fast, "steps": 30, "size": 64, "losses": {"content": 1.0, "gram": 3.0}, "dynamic_weights": True,
                "optimizer": "adam", "optimizer_options": {"lr": 0.05}}
    return stylize(content, styles, **settings, **options).image


def test_a_mask_keeps_style_out_of_the_masked_off_region(content_image, red_and_blue, fast):
    mask = np.zeros(content_image.shape[:2], bool)
    mask[:, :32] = True
    plain = stylize(content_image, red_and_blue[0], **{**fast, "steps": 0, "size": 64}).image
    out = _run(content_image, red_and_blue[0], fast, mask=mask)
    change = np.abs(out - plain).mean(axis=-1)
    styled, kept = change[:, :28].mean(), change[:, 36:].mean()  # 4 px margin: the mask is soft
    assert styled > 0.05 and kept < 1e-3, (styled, kept)


def test_the_default_optimizer_also_leaves_masked_off_pixels_as_content(content_image, style_image, fast):
    mask = np.zeros(content_image.shape[:2], bool)
    mask[:, 32:] = True
    plain = stylize(content_image, style_image, **{**fast, "steps": 0}).image
    out = stylize(content_image, style_image, **{**fast, "steps": 10}, mask=mask).image
    change = np.abs(out - plain).mean(axis=-1)
    assert change[:, 28:].mean() > 0.02 and change[:, :20].max() < 1e-3


def test_each_style_owns_its_label_region(content_image, red_and_blue, fast):
    labels = np.ones(content_image.shape[:2], np.uint8)
    labels[:, 32:] = 2
    out = _run(content_image, list(red_and_blue), fast, mask=labels)
    left, right = out[:, :28].reshape(-1, 3).mean(0), out[:, 36:].reshape(-1, 3).mean(0)
    assert left[0] - left[2] > right[0] - right[2] + 0.1


def test_blend_weights_change_the_result_monotonically(content_image, red_and_blue, fast):
    redness = []
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        out = _run(content_image, list(red_and_blue), fast, style_weights=(w, 1 - w))
        mean = out.reshape(-1, 3).mean(0)
        redness.append(mean[0] - mean[2])
    assert all(a < b for a, b in zip(redness, redness[1:])), redness


def test_mask_forms_and_errors():
    shape = (8, 10)
    assert style_masks(None, 1, shape) is None
    one = style_masks(np.ones((4, 5), bool), 1, shape)
    assert len(one) == 1 and one[0].shape == shape and one[0].min() == 1
    labels = np.array([[1, 2], [2, 1]], np.int32)
    two = style_masks(labels, 2, (2, 2))
    assert two[0].tolist() == [[1, 0], [0, 1]] and two[1].tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ImageError, match="3 masks for 2 style"):
        style_masks([labels] * 3, 2, shape)
    with pytest.raises(ImageError, match="style image 1 is empty"):
        style_masks(np.ones((4, 5), np.uint8), 2, shape)
    with pytest.raises(ImageError, match="integer label image"):
        style_masks(np.ones((4, 5), np.float32), 2, shape)


def test_style_weights_are_checked(content_image, red_and_blue, fast):
    with pytest.raises(OptionError, match="style_weights needs 2"):
        next(iter_stylize(content_image, list(red_and_blue), **fast, style_weights=(1.0,)))
    with pytest.raises(OptionError, match="not all zero"):
        next(iter_stylize(content_image, list(red_and_blue), **fast, style_weights=(0, 0)))


def test_several_styles_report_one_term_per_style(content_image, red_and_blue, fast):
    result = stylize(content_image, list(red_and_blue), **fast, style_weights=(3, 1))
    assert result.provenance["styles"] == 2 and result.provenance["style_weights"] == [0.75, 0.25]
    assert set(result.provenance["balance"]) == {"content", "gram[0]", "gram[1]", "tv"}
