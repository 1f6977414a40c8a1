"""The run plan: every option checked up front, naming it; the provenance records all of them."""

import dataclasses
import inspect

import numpy as np
import pytest

from nst_engine.errors import OptionError
from nst_engine.pipeline import iter_stylize, stylize
from nst_engine.plan import RunPlan, plan_run


@pytest.mark.parametrize("options, option, words", [
    ({"style": []}, "style", "at least one image"),
    ({"steps": "3"}, "steps", "must be an integer >= 0; got '3' (str)"),
    ({"steps": 2.0}, "steps", "must be an integer"),
    ({"steps": True}, "steps", "must be an integer"),
    ({"seed": "1"}, "seed", "must be an integer >= 0"),
    ({"threads": -2}, "threads", "must be >= 1; got -2"),
    ({"size": 0}, "size", "must be >= 1"),
    ({"scales": 0}, "scales", "must be >= 1"),
    ({"preview_every": -1}, "preview_every", "must be >= 0"),
    ({"style_scale": float("nan")}, "style_scale", "finite number > 0"),
    ({"init": "zeros"}, "init", "must be content, noise or style"),
    ({"channels_last": "yes"}, "channels_last", "True or False"),
    ({"checkpointing": 1}, "checkpointing", "True or False"),
    ({"losses": {"content": float("nan")}}, "losses content", "finite weight >= 0"),
    ({"losses": {"gram": float("inf")}}, "losses gram", "finite weight >= 0"),
    ({"losses": {}}, "losses", "no loss terms"),
    ({"style_weights": [1.0, float("inf")]}, "style_weights", "finite non-negative"),
    ({"optimizer_options": [("lr", 1)]}, "optimizer_options", "must be a mapping"),
    ({"cancel": object()}, "cancel", "is_set()"),
])
def test_bad_options_are_refused_before_any_work_naming_the_option(content_image, fast, options, option, words):
    kwargs = {**fast, "style_weights": [1.0, 1.0] if "style_weights" in options else None, **options}
    style = kwargs.pop("style", [content_image, content_image] if kwargs["style_weights"] else content_image)
    with pytest.raises(OptionError) as caught:
        next(iter_stylize(content_image, style, **kwargs))
    assert caught.value.option == option and words in str(caught.value)
    assert "--" not in str(caught.value) and "-p " not in str(caught.value)


def test_numpy_integers_are_accepted(content_image, fast):
    result = stylize(content_image, content_image, **{**fast, "steps": np.int64(2), "seed": np.int32(1)})
    assert result.provenance["steps_run"] == 2


def test_the_plan_is_frozen_and_holds_the_decided_run(content_image, fast):
    plan = plan_run(content_image, content_image, **fast)
    assert isinstance(plan, RunPlan) and plan.precision == "fp32"  # the default until bf16 meets its quality goal
    assert plan.schedule.shapes == ((36, 48),) and plan.schedule.steps == (6,)
    assert plan.content.shape == (36, 48, 3) and plan.memory.peak_bytes > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps = 3


def test_the_provenance_records_every_option_defaults_included(content_image, fast):
    provenance = stylize(content_image, content_image, **fast).provenance
    parameters = set(inspect.signature(iter_stylize).parameters) - {"content", "style", "cancel"}
    assert set(provenance["options"]) == parameters
    options = provenance["options"]
    assert options["optimizer_options"] == {"lr": 1.0, "history_size": 100, "line_search": False, "first_move": 0.0}
    assert options["backbone_options"]["kernel_size"] == 7 and options["backbone_options"]["channels"] == 16
    assert set(options["loss_options"]) == {"content", "gram", "tv"}
    assert provenance["memory"]["peak_bytes"] > 0 and provenance["precision"] == "fp32"


def test_stylize_takes_the_same_keyword_only_options_as_iter_stylize():
    ours = inspect.signature(stylize).parameters
    theirs = inspect.signature(iter_stylize).parameters
    assert list(ours) == list(theirs)
    assert all(p.kind is p.KEYWORD_ONLY for name, p in ours.items() if name not in ("content", "style"))
