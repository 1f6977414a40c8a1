"""The testing kit for plugin authors: its fixtures, and checks that pass every built-in and
catch each kind of broken plugin with a message that says what to fix."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib import metadata
from typing import Annotated

import numpy as np
import pytest
import torch
from torch import nn

from nst_engine import hookimpl
from nst_engine.backbones import Backbone
from nst_engine.backbones.geometry import LayerGeometry
from nst_engine import get_host
from nst_engine.errors import ImageError
from nst_engine.losses import ContentLoss, GramLoss
from nst_engine.plugins import PluginHost
from nst_engine.guides import previous_ref, previous_weight_ref
from nst_engine.testing import check_backbone, check_color_transfer, check_loss, check_optimizer

pytest_plugins = ["pytester"]

_BUILTINS = PluginHost(entry_points=False)


def _names(kind: str) -> list[str]:
    return sorted(_BUILTINS.entries(kind))


# -- the pytest plugin -------------------------------------------------------------------------
def test_the_kit_is_a_light_pytest_plugin():
    assert any(ep.value == "nst_engine.testing" for ep in metadata.entry_points(group="pytest11"))
    code = "import sys, nst_engine.testing; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


INNER_TESTS = '''
import types
import pytest
import nst_engine
from nst_engine import hookimpl
from nst_engine import get_host

def shift(source, reference, *, amount: float = 0.0):
    """Returns the source."""
    return source.copy()

@hookimpl
def register_color_transfers(register):
    register("shift", shift)
    register("Bad Name", shift)

plugin = types.ModuleType("nst_shift")
plugin.register_color_transfers = register_color_transfers

def test_host_is_isolated_and_process_wide(nst_host):
    assert get_host() is nst_host
    assert "sliced-ot" not in nst_engine.list_color_transfers()  # installed, but entry points are off
    assert "histogram" in nst_engine.list_color_transfers()

def test_register_adds_for_one_test(nst_register):
    record = nst_register(plugin, name="nst-shift", version="2.0", strict=False)
    assert record.provides["color_transfers"] == ["shift"]
    assert nst_engine.get_entry("color_transfers", "shift").plugin_version == "2.0"

def test_and_removes_after(nst_host):
    assert "shift" not in nst_engine.list_color_transfers()

def test_strict_registration_fails_on_errors(nst_register):
    with pytest.raises(AssertionError, match="nst-shift was not registered cleanly: .*invalid color transfer name 'Bad Name'"):
        nst_register(plugin, name="nst-shift")
'''


def test_fixtures_isolate_register_and_restore(pytester, monkeypatch):
    outer = get_host()
    monkeypatch.setenv("NST_DISABLE_PLUGINS", "nst_engine.default_plugins.color_transfers")
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:napari", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert get_host() is outer


# -- every built-in passes ----------------------------------------------------------------------
@pytest.mark.parametrize("name", _names("color_transfers"))
def test_builtin_color_transfers_pass(name):
    check_color_transfer(name)


@pytest.mark.parametrize("name", _names("losses"))
def test_builtin_losses_pass(name):
    guides = {previous_ref(1): 3, previous_weight_ref(1): 1} if name == "temporal" else None
    check_loss(name, guides=guides)


@pytest.mark.parametrize("name", _names("optimizers"))
def test_builtin_optimizers_pass(name):
    check_optimizer(name)


@pytest.mark.parametrize("name", _names("backbones"))
def test_builtin_backbones_pass(name):
    entry = _BUILTINS.get("backbones", name)
    offline = {"weights": "random"} if any(o.name == "weights" for o in entry.options) else {}
    check_backbone(name, **offline)


# -- color transfers that break the contract ----------------------------------------------------
def _keep(source, reference):
    return np.array(source)


def _wrong_dtype(source, reference):
    return np.asarray(source, np.float32)


def _nan(source, reference):
    return np.full(source.shape, np.nan, source.dtype) if source.dtype.kind == "f" else np.array(source)


def _in_place(source, reference):
    source[...] = 0
    return source


def _unseeded(source, reference):
    out = np.array(source)
    out.flat[0] = np.random.default_rng().random() if out.dtype.kind == "f" else out.flat[0]
    return out


def _brighter(source, reference):
    return np.array(source) * 2 if source.dtype.kind == "f" else np.array(source)


def _invert(source, reference):
    return (1 - source).astype(source.dtype) if source.dtype.kind == "f" else ~source


def _drops_alpha(source, reference):
    out = np.array(source)
    if out.ndim == 3 and out.shape[-1] == 4:
        out[..., 3] = 255
    return out


def _rgb_only(source, reference):
    if source.shape[2] < 3:
        raise ValueError("not a color image")
    return np.array(source)


def _refuses_gray(source, reference):
    if source.ndim == 2:
        raise ImageError("gray images are not supported: convert to RGB")
    return np.array(source)


def _untyped(source, reference, *, strength=1.0):
    return np.array(source)


@pytest.mark.parametrize(
    "fn, message",
    [
        (_wrong_dtype, r"returned float32 \(12, 16, 3\) given a uint8 RGB image .*keep the source's shape and dtype"),
        (_nan, "returned NaN or Inf given a float64 RGB image"),
        (_in_place, "writes into its input .*work on a copy"),
        (_unseeded, "different results for equal inputs: seed any randomness"),
        (_brighter, r"returned float values in \[0.*, 1\.\d+\] given a float64 RGB image .*clip them to \[0, 1\]"),
        (_invert, "recoloured with its own colors .*near identity"),
        (_drops_alpha, "changed the alpha channel"),
        (_rgb_only, "raised IndexError: .* gray H×W image"),
        (_untyped, "option 'strength' needs a type hint: the signature .* is its option schema"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:],
)
def test_a_broken_color_transfer_fails_saying_what_to_fix(fn, message):
    with pytest.raises(AssertionError, match=message):
        check_color_transfer(fn)


def test_gray_may_be_refused_with_image_error():
    check_color_transfer(_keep)
    check_color_transfer(_refuses_gray)


def test_a_transfer_that_takes_masks_must_use_them():
    from nst_engine.color import rgb_transfer

    @rgb_transfer
    def ignores(source, reference, *, source_mask: np.ndarray | None = None):
        return source + (reference.mean(axis=(0, 1)) - source.mean(axis=(0, 1)))

    with pytest.raises(AssertionError, match="takes source_mask but ignores it"):
        check_color_transfer(ignores)


def test_an_identity_setting_that_takes_masks_passes():
    # Nothing moves, so there are no statistics for a mask to change (strength=0 of a
    # plugin failed here once).
    def keeps(source, reference, *, source_mask: np.ndarray | None = None):
        return np.array(source)

    check_color_transfer(keeps)


def test_a_registered_transfer_is_named_with_its_plugin(nst_register):
    @hookimpl
    def register_color_transfers(register):
        register("bad", _nan)

    plugin = types.SimpleNamespace(register_color_transfers=register_color_transfers)
    nst_register(plugin, name="nst-bad", version="0.3")
    with pytest.raises(AssertionError, match=r"color transfer 'bad' \(plugin nst-bad 0.3\) returned NaN"):
        check_color_transfer("bad")
    with pytest.raises(AssertionError, match="no color transfer named 'nope'.*nst_register"):
        check_color_transfer("nope")
    with pytest.raises(AssertionError, match="option 'amount'"):
        check_color_transfer("histogram", amount=1)


# -- losses -----------------------------------------------------------------------------------
class _Constant(ContentLoss):
    def __call__(self, image, features, target):
        return torch.tensor(1.0)


class _PerPixel(ContentLoss):
    def __call__(self, image, features, target):
        return (image - 0.5).square()


class _NeverZero(ContentLoss):
    def __call__(self, image, features, target):
        return sum(f.mean() for f in features.values())


class _Texture(ContentLoss):
    role = "texture"


class _DeepLayer(ContentLoss):
    def resolve_layers(self, backbone):
        return ("relu9_9",)


class _NaN(ContentLoss):
    def __call__(self, image, features, target):
        return image.sum() * float("nan")


class _HaloGram(GramLoss):
    """Claims to tile, but sums over the whole tile input, halo included: counted twice."""

    def tile_sums(self, tile, target):
        return {layer: self.layer_sums(tile.features[layer], None, None) for layer in self.layers}


@pytest.mark.parametrize(
    "factory, message",
    [
        (_HaloGram, "from its tiles' sums but .* on the whole image: tile_sums must add up"),
        (_Constant, "returned a value without a gradient"),
        (_PerPixel, "return a 0-dim float tensor"),
        (_NeverZero, "when the image is its reference .*a content loss must vanish at its target"),
        (_Texture, "has role 'texture': set role to 'content', 'style' or 'image'"),
        (_DeepLayer, r"resolved layers \('relu9_9',\) that RandomMultiscale does not have"),
        (_NaN, "returned nan: the value must be finite"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:],
)
def test_a_broken_loss_fails_saying_what_to_fix(factory, message):
    with pytest.raises(AssertionError, match=message):
        check_loss(factory, backbone=_BUILTINS.get("backbones", "random-multiscale").create(channels=8, scales=2))


# -- backbones --------------------------------------------------------------------------------
class _Tiny(Backbone):
    """Two random convolutions: the smallest backbone that meets the contract."""

    layer_names = ("a", "b")
    content_layers = ("b",)
    style_layers = ("a", "b")

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.freeze()

    def forward(self, image, layers):
        wanted = self.check_layers(layers)
        a = torch.relu(self.a(image))
        out = {"a": a, "b": torch.relu(self.b(a))}
        return {name: out[name] for name in wanted}


def _tiny() -> _Tiny:
    return _Tiny()


def _not_a_backbone() -> nn.Module:
    return nn.Conv2d(3, 4, 3)


def _trainable() -> _Tiny:
    return _Tiny().requires_grad_(True)


def _forgets_layers() -> _Tiny:
    net = _Tiny()
    net.forward = lambda image, layers: {}
    return net


def _detached() -> _Tiny:
    net = _Tiny()
    forward = net.forward
    net.forward = lambda image, layers: {k: v.detach() for k, v in forward(image, layers).items()}
    return net


def _short_reach() -> _Tiny:
    """Declares its two 3×3 convolutions a reach of 1 px (it is 2 at layer b)."""
    net = _Tiny()
    net.tile_geometry = lambda layers: {name: LayerGeometry(1, 1) for name in net.check_layers(layers)}
    return net


def _bad_defaults() -> _Tiny:
    net = _Tiny()
    net.content_layers = ("relu4_2",)
    return net


@pytest.mark.parametrize(
    "factory, message",
    [
        (_not_a_backbone, "built a Conv2d: subclass nst_engine.backbones.Backbone"),
        (_trainable, r"trainable parameters: end __init__ with self.freeze\(\)"),
        (_forgets_layers, "return a dict with exactly the requested layers"),
        (_detached, "no finite, nonzero gradient back to the input"),
        (_short_reach, r"layer 'b' reads input columns .* beyond the declared stride 1 and reach 1"),
        (_bad_defaults, r"content_layers \('relu4_2',\): give at least one, each one of layer_names"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:],
)
def test_a_broken_backbone_fails_saying_what_to_fix(factory, message):
    check_backbone(_tiny)
    with pytest.raises(AssertionError, match=message):
        check_backbone(factory)


# -- optimizers -------------------------------------------------------------------------------
def _frozen(params, *, lr: float = 0.0):
    return torch.optim.SGD(params, lr=lr)


def _explodes(params, *, lr: float = 10.0):
    return torch.optim.SGD(params, lr=lr)


def _not_an_optimizer(params):
    return object()


def _bad_default(params, *, lr: float = 0.1, steps: Annotated[int, {"min": 1}] = 0):
    return torch.optim.SGD(params, lr=lr)


@pytest.mark.parametrize(
    "factory, message",
    [
        (_frozen, "it should at least halve it"),
        (_explodes, "made the parameters NaN or Inf"),
        (_not_an_optimizer, r"without step\(\) and zero_grad\(\): return a torch.optim.Optimizer"),
        (_bad_default, "option 'steps' must be >= 1; got 0: each option's default must pass its own schema"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:],
)
def test_a_broken_optimizer_fails_saying_what_to_fix(factory, message):
    with pytest.raises(AssertionError, match=message):
        check_optimizer(factory)
