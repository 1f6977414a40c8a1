"""A plugin's loss, backbone or optimizer failing mid-run: one line naming it, as PluginError."""

import pytest

from nst_engine import set_host
from nst_engine.errors import OptionError, PluginError
from nst_engine.pipeline import stylize

LOSSES = """
import torch
from nst_engine import hookimpl
from nst_engine.losses import Loss

class NanLoss(Loss):
    role = "image"
    def __call__(self, image, features, target):
        return image.mean() * float("nan")

class VectorLoss(Loss):
    role = "image"
    def __call__(self, image, features, target):
        return image.mean(dim=(0, 2, 3))

class MissingReference(Loss):
    role = "style"
    def prepare(self, references):
        return {}["no-such-key"]
    def __call__(self, image, features, target):
        return image.mean()

@hookimpl
def register_losses(register):
    register("nan-loss", NanLoss)
    register("vector-loss", VectorLoss)
    register("missing-reference", MissingReference)
"""

PARTS = """
import torch
from nst_engine import hookimpl
from nst_engine.backbones.random_multiscale import RandomMultiscale

class Broken(RandomMultiscale):
    def forward(self, image, layers):
        raise RuntimeError("weights went missing")

def broken(*, seed: int = 0):
    return Broken(scales=2, channels=8, kernel_size=3, seed=seed)

class Stubborn(torch.optim.SGD):
    def step(self, closure=None):
        closure()
        raise ZeroDivisionError("no step size")

def stubborn(params, *, lr: float = 0.1):
    return Stubborn(params, lr=lr)

@hookimpl
def register_backbones(register):
    register("broken-net", broken)

@hookimpl
def register_optimizers(register):
    register("stubborn", stubborn)
"""


@pytest.fixture
def plugins(install_plugin):
    install_plugin("nst-bad-losses", LOSSES, version="0.3")
    install_plugin("nst-bad-parts", PARTS, version="1.2")
    set_host(None)  # the next run discovers them


@pytest.mark.parametrize("loss, words", [
    ("nan-loss", "returned nan at step 1: a loss must stay finite"),
    ("vector-loss", "returned a tensor of shape (3,): a loss returns a 0-dim float tensor"),
    ("missing-reference", "failed preparing its target: KeyError: 'no-such-key'"),
])
def test_a_plugin_loss_failing_is_named_in_one_line(plugins, content_image, fast, loss, words):
    with pytest.raises(PluginError) as caught:
        stylize(content_image, content_image, **{**fast, "losses": {"content": 1.0, loss: 1.0}})
    message = str(caught.value)
    assert message.startswith(f"loss {loss!r} (plugin nst-bad-losses 0.3)") and words in message
    assert "\n" not in message


def test_a_plugin_backbone_failing_is_named(plugins, content_image, fast):
    with pytest.raises(PluginError, match=r"backbone 'broken-net' \(plugin nst-bad-parts 1.2.*\) failed computing "
                                          r"the features of the (content|style:0) image: RuntimeError: weights went missing"):
        stylize(content_image, content_image, **{**fast, "backbone": "broken-net", "backbone_options": {}})


def test_a_plugin_optimizer_failing_is_named(plugins, content_image, fast):
    with pytest.raises(PluginError, match=r"optimizer 'stubborn' \(plugin nst-bad-parts 1.2.*\) failed taking a step: "
                                          r"ZeroDivisionError: no step size"):
        stylize(content_image, content_image, **{**fast, "optimizer": "stubborn"})


def test_a_builtin_loss_going_non_finite_names_the_term_and_the_option(content_image, fast):
    with pytest.raises(OptionError, match=r"loss term 'gram' became (nan|inf) at step \d: lower the optimizer lr "
                                          r"\(now 1.0\) or the loss weights") as caught:
        stylize(content_image, content_image, **{**fast, "losses": {"gram": 1e30}, "optimizer": "sgd"})
    assert caught.value.option == "optimizer lr" and "-p " not in str(caught.value)


def test_a_builtin_loss_error_keeps_its_traceback(content_image, fast, monkeypatch):
    from nst_engine.losses import GramLoss

    monkeypatch.setattr(GramLoss, "compare", lambda self, s, t: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        stylize(content_image, content_image, **{**fast, "check_memory": False})
