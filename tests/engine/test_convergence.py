"""Early stopping: a scale ends on a flat loss, never before its minimum steps, and not while it falls."""

import pytest

from nst_engine.convergence import CONVERGENCE_WINDOW, MIN_SCALE_STEPS, ConvergenceWatch
from nst_engine.errors import OptionError
from nst_engine.pipeline import iter_stylize, stylize
from run_helpers import drain


def _first_stop(losses, **options) -> int | None:
    watch = ConvergenceWatch(**options)
    return next((step for step, loss in enumerate(losses, 1) if watch.converged(loss)), None)


def test_a_flat_loss_stops_at_the_minimum_steps_and_not_before():
    assert _first_stop([5.0] * 100, tolerance=1e-3) == MIN_SCALE_STEPS


def test_a_falling_loss_runs_on_until_its_fall_is_below_the_tolerance():
    losses = [100 * 0.97**k for k in range(60)] + [100 * 0.97**59] * 40  # 3 % per step, then flat
    stop = _first_stop(losses, tolerance=1e-2)
    assert 60 < stop <= 60 + CONVERGENCE_WINDOW


def test_a_slow_but_steady_fall_is_not_convergence_at_a_tighter_tolerance():
    losses = [100 * 0.999**k for k in range(200)]  # ~1 % over 10 steps
    assert _first_stop(losses, tolerance=0.005) is None
    assert _first_stop(losses, tolerance=0.02) == MIN_SCALE_STEPS


def test_non_finite_losses_never_count_as_converged():
    assert _first_stop([float("nan")] * 50) is None


def test_converged_scales_end_early_and_the_total_shrinks(content_image, style_image):
    events = drain(iter_stylize(content_image, style_image, backbone="random-multiscale", size=64, scales=1,
                                      steps=400, until="converged", tolerance=0.05, preview_every=0))
    run, result = events
    assert MIN_SCALE_STEPS <= len(run) < 400
    assert run[-1].total == len(run) and run[0].total == 400
    assert result.provenance["steps_run_per_scale"] == [len(run)] and result.provenance["until"] == "converged"


def test_until_steps_runs_every_step(content_image, style_image):
    result = stylize(content_image, style_image, backbone="random-multiscale", size=64, scales=1, steps=30,
                     until="steps", tolerance=0.5)
    assert result.provenance["steps_run"] == 30


@pytest.mark.parametrize("options", [{"until": "forever"}, {"tolerance": 0}, {"tolerance": -1.0}, {"tolerance": 5.0}])
def test_bad_stopping_options_are_refused_by_name(content_image, style_image, options):
    with pytest.raises(OptionError) as caught:
        stylize(content_image, style_image, backbone="random-multiscale", size=64, steps=1, **options)
    assert caught.value.option == next(iter(options))

