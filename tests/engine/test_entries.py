"""A registered callable's signature is its option schema, read once at registration."""

from typing import Annotated, Literal

import numpy as np
import pytest

from nst_engine.entries import make_entry
from nst_engine.errors import OptionError


def _entry(fn):
    return make_entry("color_transfers", "t", fn, plugin="tests", plugin_version=None)


def _schema(fn):
    return _entry(fn).options


def transfer(
    source,
    reference,
    *,
    strength: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "how far"}] = 0.5,
    space: Literal["rgb", "lab"] = "rgb",
    iterations: int = 10,
    regrain: bool = False,
    layers: tuple[str, ...] | None = None,
    source_mask: np.ndarray | None = None,
):
    return source


def test_schema_reads_types_bounds_choices_and_help():
    schema = {o.name: o for o in _schema(transfer)}
    assert schema["strength"].kind is float
    assert (schema["strength"].minimum, schema["strength"].maximum) == (0.0, 1.0)
    assert schema["strength"].help == "how far"
    assert schema["space"].choices == ("rgb", "lab")
    assert schema["layers"].sequence and schema["layers"].optional
    assert [o.default for o in schema.values()] == [0.5, "rgb", 10, False, None]


def test_array_parameters_are_data_not_options():
    entry = _entry(transfer)
    assert entry.arrays == ("source_mask",) and "source_mask" not in {o.name for o in entry.options}


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda source, reference, strength=1.0: None, "keyword-only"),
        (lambda source, reference, *, strength: None, "needs a default"),
        (lambda source, *, strength=1: None, "positional"),
    ],
)
def test_signatures_that_cannot_be_a_schema_are_refused(bad, message):
    with pytest.raises(OptionError, match=message):
        _entry(bad)


def test_options_need_type_hints():
    def untyped(source, reference, *, strength=1.0):
        return source

    with pytest.raises(OptionError, match="type hint"):
        _entry(untyped)


def test_text_from_the_command_line_is_parsed_to_the_option_type():
    entry = _entry(transfer)
    bound = entry.bind({"strength": "0.25", "iterations": "3", "regrain": "yes", "layers": "relu1_1, relu2_1"})
    assert bound == {"strength": 0.25, "iterations": 3, "regrain": True, "layers": ("relu1_1", "relu2_1")}
    assert entry.bind({"layers": "none"}) == {"layers": None}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"strength": 2.0}, "<= 1.0"),
        ({"strength": -1}, ">= 0.0"),
        ({"space": "hsv"}, "one of rgb, lab"),
        ({"iterations": "many"}, "takes an int"),
        ({"regrain": "maybe"}, "true or false"),
        ({"iterations": 2.5}, "takes an int"),
        ({"colour": 1}, "color transfer 't' has no option 'colour'.*strength"),
        ({"strength": "x"}, "takes a float, not 'x'"),
    ],
)
def test_bad_values_name_the_option_and_the_rule(values, message):
    with pytest.raises(OptionError, match=message):
        _entry(transfer).bind(values)


def test_ints_are_accepted_for_floats_and_bools_are_not_ints():
    entry = _entry(transfer)
    assert entry.bind({"strength": 1}) == {"strength": 1.0}
    with pytest.raises(OptionError):
        entry.bind({"iterations": True})


def test_an_entry_names_itself_and_its_plugin_for_messages():
    entry = make_entry("color_transfers", "t", transfer, plugin="example", plugin_version="0.1.0")
    assert (entry.label, entry.origin) == ("color transfer 't'", "color transfer 't' (plugin example 0.1.0)")
    assert _entry(transfer).origin == "color transfer 't' (plugin tests)"
