"""Option forms generated from registry entries: every built-in, and a third party's for free."""

from __future__ import annotations

import types
from typing import Annotated, Literal

import numpy as np
import pytest
from magicgui.widgets import CheckBox, ComboBox, LineEdit, SpinBox

from napari_nst._forms import EntryForm, EntryPicker, LossWeights
from nst_engine import (
    get_entry,
    hookimpl,
    list_backbones,
    list_color_transfers,
    list_losses,
    list_optimizers,
    set_host,
)
from nst_engine.errors import OptionError
from nst_engine.pipeline import DEFAULT_LOSSES
from nst_engine.plugins import PluginHost

pytestmark = pytest.mark.gui

KINDS = {
    "backbones": list_backbones,
    "losses": list_losses,
    "optimizers": list_optimizers,
    "color_transfers": list_color_transfers,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_builtin_form_round_trips_its_defaults(qtbot, kind: str) -> None:
    for name in KINDS[kind]():
        entry = get_entry(kind, name)
        form = EntryForm(entry)
        assert form.options() == entry.bind(entry.defaults()), (kind, name)


def sepia(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    strength: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "how much sepia"}] = 0.5,
    passes: Annotated[int, {"min": 1, "max": 5}] = 2,
    space: Literal["rgb", "lab"] = "rgb",
    keep_gray: bool = False,
    channels: tuple[int, ...] | None = None,
    mode: Literal["fast", "exact"] | None = None,
) -> np.ndarray:
    """A third party's transfer: its signature is all the UI it declares."""
    return source


@pytest.fixture
def third_party():
    plugin = types.SimpleNamespace(
        register_color_transfers=hookimpl(lambda register: register("sepia", sepia)),
    )
    host = PluginHost(entry_points=False)
    host.add_plugin(plugin, name="nst-sepia", version="0.3")
    previous = set_host(host)
    yield host
    set_host(previous)


def test_a_third_party_entry_gets_a_form_for_free(qtbot, third_party) -> None:
    picker = EntryPicker("color_transfers", label="method", names=list_color_transfers, value="sepia")
    form = picker.form()
    widgets = {w.name: w for w in form}
    assert isinstance(widgets["passes"], SpinBox) and (widgets["passes"].min, widgets["passes"].max) == (1, 5)
    assert isinstance(widgets["space"], ComboBox) and widgets["space"].choices == ("rgb", "lab")
    assert isinstance(widgets["keep_gray"], CheckBox)
    assert isinstance(widgets["strength"], LineEdit) and "how much sepia" in widgets["strength"].tooltip
    widgets["strength"].value = "0.25"
    widgets["channels"].value = "0, 2"
    widgets["space"].value = "lab"
    assert widgets["mode"].value is None and None in widgets["mode"].choices
    assert picker.options() == {
        "strength": 0.25, "passes": 2, "space": "lab", "keep_gray": False, "channels": (0, 2), "mode": None,
    }
    widgets["strength"].value = "3"
    with pytest.raises(OptionError, match="strength"):
        picker.options()


def test_picker_refreshes_registry_choices(qtbot) -> None:
    picker = EntryPicker("color_transfers", label="method", names=list_color_transfers)
    assert "sepia" not in picker.choice.choices
    plugin = types.SimpleNamespace(register_color_transfers=hookimpl(lambda register: register("sepia", sepia)))
    host = PluginHost(entry_points=False)
    host.add_plugin(plugin, name="nst-sepia", version="0.3")
    previous = set_host(host)
    try:
        picker.choice.reset_choices()
        assert "sepia" in picker.choice.choices
    finally:
        set_host(previous)


def test_only_the_chosen_form_is_visible(qtbot) -> None:
    picker = EntryPicker("optimizers", label="optimizer", names=list_optimizers, value="lbfgs")
    picker.value = "adam"
    assert picker.opened() == ["lbfgs", "adam"]
    assert not picker.form("adam").native.isHidden() and picker.form("lbfgs").native.isHidden()


def test_loss_weights_preset_parse_and_validate(qtbot) -> None:
    weights = LossWeights(list_losses())
    assert weights.weights() == DEFAULT_LOSSES
    assert weights.picker.value in DEFAULT_LOSSES  # options of a loss in use are shown first
    weights.set_weights({"content": 1.0, "gram": 1e4})
    weights["weight_mean-std"].value = "1e3"
    assert weights.weights() == {"content": 1.0, "gram": 1e4, "mean-std": 1e3}
    weights["weight_gram"].value = "lots"
    with pytest.raises(OptionError, match="gram"):
        weights.weights()
    weights.set_weights({})
    with pytest.raises(OptionError, match="every loss weight is 0"):
        weights.weights()


def test_loss_options_only_for_losses_in_use(qtbot) -> None:
    weights = LossWeights(list_losses())
    weights.picker.value = "gram"
    weights.picker.form("gram")["layers"].value = "scale1, scale2"
    weights.picker.value = "mean-std"
    chosen = weights.weights()  # mean-std has weight 0: its opened form is not passed on
    options = weights.loss_options(chosen)
    assert "gram" in options and "mean-std" not in options and set(options) <= set(chosen)
    assert options["gram"] == {"layers": ("scale1", "scale2"), "layer_weights": None}
