"""check_model passes the built-ins and names what is wrong with broken models; the registry lists them."""

from __future__ import annotations

import json
import types

import pytest
import torch
from cli_helpers import run

import nst_engine
from nst_engine import hookimpl
from nst_engine.models import Model
from nst_engine.testing import check_model


class Tone(Model):
    """A per-channel gain: the smallest conforming model, broken below one way at a time."""

    name = "tone"

    def __init__(self, *, gain: float = 1.0) -> None:
        super().__init__(gain=gain)
        self.gain = torch.nn.Parameter(torch.full((3,), gain))

    def forward(self, image, *, style=None):
        self.check_call(style, {})
        return image * self.gain[:, None, None]


class Shrinks(Tone):
    def forward(self, image, *, style=None):
        return super().forward(image)[..., ::2, ::2]


class Noisy(Tone):
    def forward(self, image, *, style=None):
        return super().forward(image) + 0.01 * torch.rand_like(image)


class Hidden(Tone):
    """Keeps a learnt value outside its state dict."""

    def __init__(self, *, gain: float = 1.0) -> None:
        super().__init__(gain=gain)
        self.offset = torch.rand(3)

    def forward(self, image, *, style=None):
        return super().forward(image) * 0.5 + self.offset[:, None, None] * 0.5


class Misnamed(Tone):
    name = "something-else"


@pytest.mark.parametrize("name, options", [("johnson", {}), ("johnson", {"styles": 2, "style_mix": "0.3,0.7"}),
                                           ("adain", {"alpha": 0.5})])
def test_builtin_models_pass(name, options):
    check_model(name, **options)


def test_a_conforming_plugin_model_passes():
    check_model(Tone)


@pytest.mark.parametrize("factory, message", [
    (Shrinks, "keep the input's size"),
    (Noisy, "different results for equal images in eval mode"),
    (Hidden, "once its state dict is loaded"),
    (lambda: torch.nn.Identity(), "subclass nst_engine.models.Model"),
])
def test_a_broken_model_fails_with_what_to_fix(factory, message):
    with pytest.raises(AssertionError, match=message):
        check_model(factory)


def test_a_model_must_carry_its_registered_name(nst_host):
    plugin = types.SimpleNamespace(register_models=hookimpl(lambda register: register("tone", Misnamed)))
    nst_host.add_plugin(plugin, name="nst-tone", version="1.0")
    with pytest.raises(AssertionError, match="set the class attribute name to 'tone'"):
        check_model("tone")


def test_models_are_a_kind_in_the_registry_and_in_nst_plugins(nst_host, capsys):
    assert nst_engine.list_models() == ["adain", "johnson"]
    assert isinstance(nst_engine.create_model("johnson", styles=3), Model)
    code, out, _ = run(["plugins", "--options"], capsys)
    assert code == 0
    builtins = next(p for p in json.loads(out) if p["name"] == "nst_engine.default_plugins.models")
    assert builtins["provides"]["models"] == ["adain", "johnson"] and builtins["hooks"] == ["register_models"]
    assert {o["name"] for o in builtins["options"]["models"]["johnson"]} >= {"styles", "style_index", "style_mix"}


def test_model_options_are_validated_naming_the_option(nst_host):
    with pytest.raises(nst_engine.errors.OptionError, match="model 'johnson'.*'styles' must be >= 1") as refused:
        nst_engine.create_model("johnson", styles=0)
    assert refused.value.option == "model styles"
