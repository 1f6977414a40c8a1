from typing import Annotated, Literal

import pytest

from nst_engine.errors import OptionError
from nst_engine.options import bind_options, options_of, parse_option


def transfer(
    source,
    reference,
    *,
    strength: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "how far"}] = 0.5,
    space: Literal["rgb", "lab"] = "rgb",
    iterations: int = 10,
    regrain: bool = False,
    layers: tuple[str, ...] | None = None,
):
    return source


def test_schema_reads_types_bounds_choices_and_help():
    schema = {o.name: o for o in options_of(transfer, positional=2)}
    assert schema["strength"].kind is float
    assert (schema["strength"].minimum, schema["strength"].maximum) == (0.0, 1.0)
    assert schema["strength"].help == "how far"
    assert schema["space"].choices == ("rgb", "lab")
    assert schema["layers"].sequence and schema["layers"].optional
    assert [o.default for o in schema.values()] == [0.5, "rgb", 10, False, None]


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda source, reference, strength=1.0: None, "keyword-only"),
        (lambda source, reference, *, strength: None, "needs a default"),
        (lambda source, *, strength=1: None, "positional"),
    ],
)
def test_signatures_that_cannot_be_a_schema_are_refused(bad, message):
    with pytest.raises(TypeError, match=message):
        options_of(bad, positional=2)


def test_options_need_type_hints():
    def untyped(source, reference, *, strength=1.0):
        return source

    with pytest.raises(TypeError, match="type hint"):
        options_of(untyped, positional=2)


def test_text_from_the_command_line_is_parsed_to_the_option_type():
    schema = options_of(transfer, positional=2)
    bound = bind_options(
        schema, {"strength": "0.25", "iterations": "3", "regrain": "yes", "layers": "relu1_1, relu2_1"}
    )
    assert bound == {"strength": 0.25, "iterations": 3, "regrain": True, "layers": ("relu1_1", "relu2_1")}
    assert parse_option({o.name: o for o in schema}["layers"], "none") is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"strength": 2.0}, "<= 1.0"),
        ({"strength": -1}, ">= 0.0"),
        ({"space": "hsv"}, "one of rgb, lab"),
        ({"iterations": "many"}, "takes a int"),
        ({"regrain": "maybe"}, "true or false"),
        ({"iterations": 2.5}, "takes a int"),
        ({"colour": 1}, "no option 'colour'.*strength"),
    ],
)
def test_bad_values_name_the_option_and_the_rule(values, message):
    with pytest.raises(OptionError, match=message):
        bind_options(options_of(transfer, positional=2), values)


def test_ints_are_accepted_for_floats_and_bools_are_not_ints():
    schema = options_of(transfer, positional=2)
    assert bind_options(schema, {"strength": 1}) == {"strength": 1.0}
    with pytest.raises(OptionError):
        bind_options(schema, {"iterations": True})
