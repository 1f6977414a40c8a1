"""The installed example plugin in napari: its transfer is a method of the Color Transfer
widget, with an options form generated from its signature, and applying it adds a layer."""

from __future__ import annotations

from importlib import metadata

import pytest
from magicgui.widgets import SpinBox

from nst_engine import set_host

pytestmark = pytest.mark.gui


@pytest.fixture
def installed(monkeypatch):
    """A fresh process-wide host that loads entry points, as napari's session does."""
    try:
        version = metadata.version("nst-plugin-example")
    except metadata.PackageNotFoundError:
        pytest.fail("the example plugin is not installed: python -m pip install -e examples/nst-plugin-example")
    monkeypatch.delenv("NST_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("NST_DISABLE_PLUGINS", raising=False)
    previous = set_host(None)
    yield version
    set_host(previous)


@pytest.fixture
def widget(installed, images, dock):
    content, style = images
    widget = dock("Color Transfer")
    widget.source.value, widget.reference.value = content, style
    return widget


def test_the_example_transfer_is_a_method_with_its_own_form(widget) -> None:
    assert "sliced-ot" in widget.method.choice.choices
    widget.method.value = "sliced-ot"
    form = widget.method.form()
    projections = form["projections"]
    assert isinstance(projections, SpinBox)
    assert (projections.value, projections.min, projections.max) == (6, 1, 64)
    assert "random directions per iteration" in projections.tooltip
    assert {w.name for w in form} == {"projections", "iterations", "seed", "strength"}  # masks are data, not options
    assert not form.native.isHidden()
    widget.method.value = "reinhard"
    assert form.native.isHidden() and not widget.method.form().native.isHidden()  # one form at a time


def test_applying_it_adds_a_layer_with_its_provenance(viewer, images, widget, wait_idle, installed) -> None:
    content, _ = images
    widget.method.value = "sliced-ot"
    widget.method.form()["projections"].value = 3
    widget.apply()
    wait_idle(widget)
    layer = viewer.layers[-1]
    assert layer.name == "content [sliced-ot]" and layer.data.shape == content.data.shape
    nst = layer.metadata["nst"]
    assert (nst["method"], nst["plugin"], nst["version"]) == ("sliced-ot", "example", installed)
    assert nst["options"]["projections"] == 3
