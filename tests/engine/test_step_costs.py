"""The first line's time estimate: learnt from finished runs, never from tiny ones, never fatal."""

import json

import pytest

from nst_engine import step_costs
from nst_engine.pipeline import stylize
from nst_engine.schedule import scale_shapes


def _provenance(seconds: float, steps: int = 10, shape=(512, 512), backbone: str = "random-multiscale") -> dict:
    return {"steps_run_per_scale": [steps], "timings": {"scale_s": [seconds]}, "scales": [list(shape)],
            "options": {"backbone": backbone, "device": "auto", "precision": "fp32", "threads": None}}


def test_a_run_teaches_the_estimate_its_cost_per_step_and_megapixel():
    step_costs.record_run(_provenance(seconds=10 * 0.2621440 * 4.0))  # 4 s per step and Mpx
    estimate = step_costs.estimate_seconds([(512, 512)], steps=100, backbone="random-multiscale")
    assert estimate == pytest.approx(100 * 0.262144 * 4.0)
    coarse_and_fine = step_costs.estimate_seconds(scale_shapes((512, 512), 2), steps=100, backbone="random-multiscale")
    assert coarse_and_fine < estimate  # the coarse scale's steps cost a quarter


def test_small_or_short_runs_are_not_learnt_from():
    step_costs.record_run(_provenance(seconds=5.0, shape=(64, 64)))
    step_costs.record_run(_provenance(seconds=5.0, steps=2))
    step_costs.record_run(dict(_provenance(seconds=50.0), tiles=[1024]))  # tiled steps cost more
    assert not step_costs.cache_path().exists()


def test_without_a_measurement_cpu_runs_use_the_calibration_and_others_say_nothing():
    assert step_costs.estimate_seconds([(512, 512)], steps=10, backbone="vgg19") > 0
    assert step_costs.estimate_seconds([(512, 512)], steps=10, backbone="vgg19", device="cuda") is None
    assert step_costs.estimate_seconds([(512, 512)], steps=10, backbone="a-plugins-backbone") is None


def test_a_corrupt_or_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    step_costs.cache_path().parent.mkdir(parents=True, exist_ok=True)
    step_costs.cache_path().write_text("{not json")
    assert step_costs.estimate_seconds([(512, 512)], steps=10, backbone="random-multiscale") > 0
    monkeypatch.setenv("NST_CACHE_DIR", str(tmp_path / "file"))
    (tmp_path / "file").write_text("a file where the folder should be")
    step_costs.record_run(_provenance(seconds=3.0))  # must not raise
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]


def test_the_engine_records_what_each_scale_took(content_image, style_image):
    result = stylize(content_image, style_image, backbone="random-multiscale", size=64, scales=1, steps=6,
                     until="steps")
    timings = result.provenance["timings"]
    assert len(timings["scale_s"]) == 1 and 0 < timings["scale_s"][0] <= timings["loop_s"]
    json.dumps(result.provenance)
