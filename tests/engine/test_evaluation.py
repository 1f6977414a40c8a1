"""evaluate(), the Gram distance and resource measurement."""

import numpy as np
import pytest

from nst_engine.evaluation import evaluate
from nst_engine.metrics import gram as gram_module
from nst_engine.metrics.gram import gram_distance, gram_distances
from nst_engine.metrics.resources import measure


def test_gram_distance_is_zero_for_the_style_itself_and_grows_with_difference(style_image, content_image):
    options = {"backbone": "random-multiscale", "backbone_options": {"channels": 16}}
    assert gram_distance(style_image, style_image, **options) == 0
    near = gram_distance(np.clip(style_image.astype(int) + 10, 0, 255).astype(np.uint8), style_image, **options)
    far = gram_distance(content_image, style_image, **options)
    assert 0 < near < far


def test_gram_distances_score_many_images_with_one_backbone(monkeypatch, style_image, content_image):
    options = {"backbone": "random-multiscale", "backbone_options": {"channels": 16}}
    one_by_one = [gram_distance(image, style_image, **options) for image in (content_image, style_image)]
    built = []
    create = gram_module.create_backbone
    monkeypatch.setattr(gram_module, "create_backbone", lambda *a, **k: built.append(a) or create(*a, **k))
    together = gram_distances([content_image, style_image, content_image], style_image, **options)
    assert len(built) == 1
    assert together == pytest.approx([one_by_one[0], 0.0, one_by_one[0]], rel=1e-6)


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
