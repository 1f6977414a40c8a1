"""The plugin host: discovery through entry points, isolation of broken plugins, env lists."""

import json
import logging
import types

import numpy as np
import pytest

import nst_engine
from nst_engine.errors import PluginError, UnknownEntryError
from nst_engine.plugins import PluginHost, PluginProblem

GOOD = """
from nst_engine import hookimpl

def shift(source, reference, *, amount: float = 0.1):
    '''Adds a constant.'''
    return source

@hookimpl
def register_color_transfers(register):
    register("shift", shift)
"""


def _record(host, name):
    return next(p for p in host.plugins() if p["name"] == name)


def test_builtins_register_through_the_same_hooks():
    host = PluginHost(entry_points=False)
    names = {p["name"]: p for p in host.plugins()}
    assert names["nst_engine.default_plugins.backbones"]["provides"]["backbones"] == [
        "random-multiscale", "resnet50", "vgg16", "vgg19"]
    assert {"content", "gram", "mean-std", "tv"} <= set(host.entries("losses"))
    assert {"lbfgs", "adam"} <= set(host.entries("optimizers"))
    assert all(not p["errors"] for p in names.values())


def test_an_installed_plugin_is_discovered_with_its_version(install_plugin):
    install_plugin("nst-shift", GOOD, version="2.3")
    host = PluginHost()
    entry = host.get("color_transfers", "shift")
    assert (entry.plugin, entry.plugin_version) == ("nst-shift", "2.3")
    assert _record(host, "nst-shift") == {
        "name": "nst-shift", "version": "2.3", "hooks": ["register_color_transfers"],
        "provides": {"backbones": [], "losses": [], "optimizers": [], "color_transfers": ["shift"], "models": []},
        "errors": [],
    }
    assert entry.options[0].name == "amount" and entry.description == "Adds a constant."


BROKEN = {
    "import": ("import not_a_module_anywhere\n", "import failed: ModuleNotFoundError"),
    "raises": (
        "from nst_engine import hookimpl\n@hookimpl\ndef register_losses(register):\n    raise RuntimeError('boom')\n",
        "register_losses raised RuntimeError: boom",
    ),
    "duplicate": (
        "from nst_engine import hookimpl\nfrom nst_engine.losses import GramLoss\n"
        "@hookimpl\ndef register_losses(register):\n    register('gram', GramLoss)\n",
        "'gram' is already registered by nst_engine.default_plugins.losses",
    ),
    "invalid": (
        "from nst_engine import hookimpl\n"
        "@hookimpl\ndef register_color_transfers(register):\n"
        "    register('Bad Name', lambda s, r: s)\n"
        "    register('untyped', lambda s, r, *, k=1: s)\n"
        "    register('notcallable', 42)\n",
        "invalid color transfer name 'Bad Name'",
    ),
    "badhook": (
        "from nst_engine import hookimpl\n@hookimpl\ndef register_colour_transfers(register):\n    pass\n",
        "invalid hook implementation",
    ),
    "newapi": ("NST_ENGINE_API = '1.9'\n", "needs plugin API 1.9 but nst_engine offers 1.1"),
    "newkeyword": (
        "from nst_engine import hookimpl\n"
        "@hookimpl\ndef register_color_transfers(register):\n"
        "    register('later', lambda s, r: s, colorspace='lab')\n",
        "register_color_transfers: color transfer 'later': register() takes no keyword 'colorspace'",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_plugin_is_reported_and_everything_else_keeps_working(install_plugin, kind):
    source, message = BROKEN[kind]
    install_plugin("nst-broken", source, version="0.0.1")
    install_plugin("nst-shift", GOOD, module="nst_shift")
    host = PluginHost()
    record = _record(host, "nst-broken")
    assert record["version"] == "0.0.1"
    assert any(message in error for error in record["errors"]), record["errors"]
    assert "shift" in host.entries("color_transfers")
    assert host.get("losses", "gram").plugin == "nst_engine.default_plugins.losses"
    assert host.get("backbones", "random-multiscale")


def test_invalid_registrations_are_each_reported(install_plugin):
    install_plugin("nst-broken", BROKEN["invalid"][0])
    errors = " | ".join(_record(PluginHost(), "nst-broken")["errors"])
    assert "needs a type hint" in errors and "is not callable" in errors


def test_problems_are_typed_by_where_they_happened(install_plugin):
    install_plugin("nst-import", BROKEN["import"][0])
    install_plugin("nst-raises", BROKEN["raises"][0])
    host = PluginHost()
    host.plugins()
    assert [p.kind for p in host.records["nst-import"].problems] == ["load"]
    problem = host.records["nst-raises"].problems[0]
    assert problem == PluginProblem("register", "nst-raises", "register_losses raised RuntimeError: boom")


def test_register_problems_are_not_repeated_when_entries_are_collected_again(install_plugin):
    install_plugin("nst-broken", BROKEN["invalid"][0])
    host = PluginHost()
    first = _record(host, "nst-broken")["errors"]
    host.add_plugin(types.ModuleType("empty"), name="empty")  # invalidates the registries
    assert _record(host, "nst-broken")["errors"] == first and len(first) == 3


def test_an_unknown_register_keyword_refuses_that_entry_only(install_plugin):
    install_plugin("nst-broken", BROKEN["newkeyword"][0] + "    register('now', lambda s, r: s)\n")
    host = PluginHost()
    assert "now" in host.entries("color_transfers") and "later" not in host.entries("color_transfers")
    assert "set NST_ENGINE_API" in _record(host, "nst-broken")["errors"][0]


def test_an_allow_list_naming_no_installed_plugin_warns(install_plugin, monkeypatch, caplog):
    install_plugin("nst-shift", GOOD)
    monkeypatch.setenv("NST_LOAD_PLUGINS", "nst-shfit,nst-shift")
    with caplog.at_level(logging.WARNING, logger="nst_engine.plugins"):
        host = PluginHost()
    assert "shift" in host.entries("color_transfers")
    (problem,) = host.problems
    assert problem.kind == "config" and "names nst-shfit, which no installed plugin is" in problem.message
    assert "nst-shift" in problem.message.split("installed: ")[1]
    assert problem.message in caplog.text


def test_create_color_transfer_is_the_checked_call(fresh_host):
    def nan(source, reference):
        return np.full(np.shape(source), np.nan, np.float32)

    module = types.ModuleType("nan")
    module.register_color_transfers = nst_engine.hookimpl(lambda register: register("nan", nan))
    fresh_host.add_plugin(module, name="nst-nan", version="0.1")
    image = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(PluginError, match=r"color transfer 'nan' \(plugin nst-nan 0.1\) returned NaN"):
        nst_engine.create_color_transfer("nan")(image, image)
    recolour = nst_engine.create_color_transfer("histogram")
    assert recolour(image, image).dtype == np.float32


def test_allow_list_and_block_list(install_plugin, monkeypatch):
    install_plugin("nst-shift", GOOD)
    monkeypatch.setenv("NST_LOAD_PLUGINS", "")
    assert "shift" not in PluginHost().entries("color_transfers")
    monkeypatch.setenv("NST_LOAD_PLUGINS", "nst-shift")
    assert "shift" in PluginHost().entries("color_transfers")
    monkeypatch.delenv("NST_LOAD_PLUGINS")
    monkeypatch.setenv("NST_DISABLE_PLUGINS", "nst-shift,nst_engine.default_plugins.optimizers")
    host = PluginHost()
    assert "shift" not in host.entries("color_transfers")
    assert host.entries("optimizers") == {}


def test_unknown_names_list_what_is_available(fresh_host):
    with pytest.raises(UnknownEntryError, match="no backbone named 'vgg91'.*random-multiscale, resnet50, vgg16, vgg19"):
        nst_engine.create_backbone("vgg91")


def test_registry_vocabulary_over_the_process_host(fresh_host):
    assert nst_engine.list_backbones() == ["random-multiscale", "resnet50", "vgg16", "vgg19"]
    assert "lbfgs" in nst_engine.list_optimizers() and "tv" in nst_engine.list_losses()
    json.dumps(nst_engine.get_plugins())
    backbone = nst_engine.create_backbone("random-multiscale", channels=8, scales=2)
    assert backbone.layer_names == ("scale1", "scale2")


def test_plugins_added_and_removed_at_run_time(fresh_host):
    module = types.ModuleType("inline")
    exec(GOOD, module.__dict__)
    fresh_host.add_plugin(module, name="inline", version="0")
    assert "shift" in fresh_host.entries("color_transfers")
    fresh_host.remove_plugin("inline")
    assert "shift" not in fresh_host.entries("color_transfers")


def test_top_level_entry_points_load_lazily():
    import subprocess
    import sys

    code = ("import sys, nst_engine; assert 'torch' not in sys.modules; "
            "assert callable(nst_engine.stylize) and callable(nst_engine.color_transfer) and callable(nst_engine.evaluate)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
