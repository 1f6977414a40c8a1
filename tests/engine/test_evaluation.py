"""evaluate(), the Gram distance and resource measurement."""

import numpy as np
import pytest

from nst_engine.evaluation import evaluate
from nst_engine.metrics.gram import gram_distance
from nst_engine.metrics.resources import measure


def test_gram_distance_is_zero_for_the_style_itself_and_grows_with_difference(style_image, content_image):
    options = {"backbone": "random-multiscale", "backbone_options": {"channels": 16}}
    assert gram_distance(style_image, style_image, **options) == 0
    near = gram_distance(np.clip(style_image.astype(int) + 10, 0, 255).astype(np.uint8), style_image, **options)
    far = gram_distance(content_image, style_image, **options)
    assert 0 < near < far


def test_evaluate_reports_kl_ssim_and_gram(content_image, style_image):
    figures = evaluate(content_image, content_image, style=style_image, backbone="random-multiscale",
                       backbone_options={"channels": 8})
    assert figures["kl"] == {"R": 0.0, "G": 0.0, "B": 0.0}
    assert figures["ssim"] == pytest.approx(1.0)
    assert figures["gram_distance"] > 0 and figures["gram_backbone"] == "random-multiscale"
    assert figures["kl_settings"]["direction"] == "KL(original || processed)"


def test_measure_reports_time_and_peak_memory():
    with measure() as usage:
        block = np.ones(160 * 2**20 // 8)
        block.sum()
    assert usage.seconds > 0 and usage.method
    assert usage.peak_mb >= 80
