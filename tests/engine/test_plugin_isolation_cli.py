"""A broken plugin, seen from the command line: the command that used it fails with one line
naming the plugin, its version and what went wrong (exit 1); ``nst plugins`` lists the error;
every other command and method keeps working; ``NST_DISABLE_PLUGINS`` switches it off.

The plugins are installed with a dist-info entry point (the ``install_plugin`` fixture), so
the ``nst`` command finds them exactly as it finds pip-installed ones.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import run
import tifffile

from nst_engine import set_host
from nst_engine.files import read_image

BAD_TRANSFERS = '''
import numpy as np
from nst_engine import hookimpl

def nan(source, reference):
    return np.full(source.shape, np.nan, source.dtype)

def wrong_shape(source, reference):
    return np.asarray(source)[:-1]

def crash(source, reference, *, divisor: int = 0):
    return source / divisor if divisor else 1 // divisor

@hookimpl
def register_color_transfers(register):
    register("bad-nan", nan)
    register("bad-shape", wrong_shape)
    register("bad-crash", crash)
'''

BROKEN_AT_LOAD = {
    "nst-import": ("import not_a_module_anywhere\n", "import failed: ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
    "nst-raises": (
        "from nst_engine import hookimpl\n@hookimpl\ndef register_color_transfers(register):\n    raise RuntimeError('boom')\n",
        "register_color_transfers raised RuntimeError: boom",
    ),
    "nst-duplicate": (
        "from nst_engine import hookimpl\nfrom nst_engine.color import reinhard\n"
        "@hookimpl\ndef register_color_transfers(register):\n    register('histogram', reinhard)\n",
        "register_color_transfers: color transfer 'histogram' is already registered by "
        "nst_engine.default_plugins.color_transfers; skipped",
    ),
    "nst-invalid": (
        "from nst_engine import hookimpl\n@hookimpl\ndef register_color_transfers(register):\n"
        "    register('two words', lambda s, r: s)\n",
        "register_color_transfers: invalid color transfer name 'two words'",
    ),
    "nst-future": ("NST_ENGINE_API = '1.7'\n", "needs plugin API 1.7 but nst_engine offers 1.1"),
}




@pytest.fixture
def broken(install_plugin, monkeypatch):
    """The bad transfers (nst-bad 0.3) and every load-time failure, installed as packages."""
    monkeypatch.delenv("NST_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("NST_DISABLE_PLUGINS", raising=False)
    install_plugin("nst-bad", BAD_TRANSFERS, version="0.3")
    for name, (source, _) in BROKEN_AT_LOAD.items():
        install_plugin(name, source, version="0.0.1")
    set_host(None)
    yield
    set_host(None)


@pytest.fixture
def images(tmp_path):
    """Float32 TIFFs: ``nst color`` hands a transfer the file's own dtype, and only a float
    result can hold the NaN a broken transfer returns."""
    rng = np.random.default_rng(0)
    source, reference = tmp_path / "source.tif", tmp_path / "reference.tif"
    tifffile.imwrite(source, rng.random((12, 16, 3), dtype=np.float32), photometric="rgb")
    tifffile.imwrite(reference, rng.random((10, 10, 3), dtype=np.float32), photometric="rgb")
    return source, reference


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("bad-nan", [], "error: color transfer 'bad-nan' (plugin nst-bad 0.3) returned NaN or Inf values"),
        ("bad-shape", [], "error: color transfer 'bad-shape' (plugin nst-bad 0.3) returned float32 (11, 16, 3) "
                          "for a float32 (12, 16, 3) source; a transfer must keep the source's shape and dtype"),
        ("bad-crash", [], "error: color transfer 'bad-crash' (plugin nst-bad 0.3) failed: "
                          "ZeroDivisionError: integer division or modulo by zero"),
        ("bad-crash", ["-p", "divisor=x"],
         "error: color transfer 'bad-crash': option 'divisor' takes an int, not 'x' (set with -p divisor=VALUE)"),
    ],
)
def test_the_command_that_used_it_fails_with_one_line(broken, images, tmp_path, capsys, method, options, message):
    out = tmp_path / "out.png"
    code, _, err = run(["color", *map(str, images), "-o", str(out), "-m", method, *options], capsys)
    # Before it, outside pytest's log capture, come the load-time warnings of the other broken plugins.
    assert code == 1 and err.splitlines()[-1] == message and "Traceback" not in err
    assert not out.exists()


def test_nst_plugins_lists_every_failure_and_still_works(broken, capsys):
    code, out, _ = run(["plugins"], capsys)
    assert code == 0
    records = {p["name"]: p for p in json.loads(out)}
    for name, (_, message) in BROKEN_AT_LOAD.items():
        assert records[name]["version"] == "0.0.1"
        assert any(message in error for error in records[name]["errors"]), (name, records[name]["errors"])
    assert records["nst-bad"]["errors"] == []
    assert records["nst-bad"]["provides"]["color_transfers"] == ["bad-crash", "bad-nan", "bad-shape"]


def test_everything_else_keeps_working(broken, images, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = run(["color", *map(str, images), "-o", str(out), "-m", "histogram"], capsys)
    assert code == 0, err
    assert read_image(out).shape == (12, 16, 3)
    code, _, err = run(["stylize", "--sample", "-o", str(tmp_path / "s.png"), "--backbone", "random-multiscale",
                        "-p", "backbone.channels=8", "--steps", "1", "--size", "32", "--scales", "1", "-q"], capsys)
    assert code == 0, err


def test_nst_disable_plugins_switches_it_off(broken, images, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NST_DISABLE_PLUGINS", "nst-bad,nst-import")
    set_host(None)
    code, out, _ = run(["plugins"], capsys)
    names = {p["name"] for p in json.loads(out)}
    assert code == 0 and not names & {"nst-bad", "nst-import"} and "nst-raises" in names
    code, _, err = run(["color", *map(str, images), "-o", str(tmp_path / "o.png"), "-m", "bad-nan"], capsys)
    assert code == 1 and err.startswith("error: no color transfer named 'bad-nan' (available: cholesky,")


def test_a_bad_transfer_used_for_color_preservation_fails_naming_the_plugin(broken, tmp_path, capsys):
    code, _, err = run(["stylize", "--sample", "-o", str(tmp_path / "s.png"), "--backbone", "random-multiscale",
                        "-p", "backbone.channels=8", "--steps", "1", "--size", "32", "--scales", "1", "-q",
                        "--color", "after:bad-nan"], capsys)
    assert code == 1 and "(plugin nst-bad 0.3) returned NaN or Inf" in err
