"""The built-in plugin registers every transfer, with a signature that works as a schema."""

from __future__ import annotations

import inspect
import typing

import numpy as np
import pytest

import nst_engine.color as color
import nst_engine.default_plugins.color_transfers as registration

NAMES = ["reinhard", "idt", "mkl", "luminance", "histogram", "cholesky", "pca", "mean-std"]


def _registered() -> dict[str, tuple]:
    calls = {}

    def register(name, fn, **kwargs):
        calls[name] = (fn, kwargs)

    registration.register_color_transfers(register)
    return calls


def test_every_transfer_is_registered_with_a_description():
    calls = _registered()
    assert sorted(calls) == sorted(NAMES)
    for name, (fn, kwargs) in calls.items():
        assert kwargs["description"], name
        assert fn in (getattr(color, n) for n in color.__all__)


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_a_schema(name):
    fn = _registered()[name][0]
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:2]] == ["source", "reference"]
    hints = typing.get_type_hints(fn, include_extras=True)
    for p in params[2:]:
        assert p.kind is p.KEYWORD_ONLY and p.default is not p.empty, p.name
        assert p.name in hints, p.name
    assert {"source_mask", "reference_mask"} <= {p.name for p in params}
    assert fn.__doc__ and fn.__doc__.strip().splitlines()[0]


@pytest.mark.parametrize("name", NAMES)
def test_defaults_run(name):
    fn = _registered()[name][0]
    image = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
    assert fn(image, image[::-1]).shape == image.shape
