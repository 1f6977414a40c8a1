"""The installed example plugin (examples/nst-plugin-example) through its entry point, as a
user gets it: listed, usable from ``nst color`` and ``nst report``, its own subcommand, and
switched off by ``NST_DISABLE_PLUGINS``.

The suite installs the example (see the README's test command); these tests fail, rather
than skip, when it is missing.
"""

from __future__ import annotations

import csv
import json
from importlib import metadata

import numpy as np
import pytest
from cli_helpers import run

from nst_engine import set_host
from nst_engine.files import read_image, read_provenance, write_image

INSTALL = "install it: python -m pip install -e examples/nst-plugin-example"


@pytest.fixture
def version() -> str:
    """The installed example's version; fails with the install command when it is missing."""
    try:
        return metadata.version("nst-plugin-example")
    except metadata.PackageNotFoundError:
        pytest.fail(f"the example plugin is not installed; {INSTALL}")


@pytest.fixture
def installed(version, monkeypatch):
    """A process-wide host that loads entry points, as ``nst`` does, fresh for this test."""
    monkeypatch.delenv("NST_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("NST_DISABLE_PLUGINS", raising=False)
    previous = set_host(None)
    yield version
    set_host(previous)




@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    source, reference = tmp_path / "source.png", tmp_path / "reference.png"
    write_image(source, rng.random((24, 32, 3)) * 0.5)
    write_image(reference, 0.5 + rng.random((20, 20, 3)) * 0.5)
    return source, reference


def test_listed_by_nst_plugins_with_version_hooks_and_options(installed, capsys):
    code, out, _ = run(["plugins", "--options"], capsys)
    record = next((p for p in json.loads(out) if p["name"] == "example"), None)
    assert code == 0 and record is not None, INSTALL
    assert record["version"] == installed and record["errors"] == []
    assert record["hooks"] == ["register_color_transfers", "register_commands"]
    assert record["provides"]["color_transfers"] == ["sliced-ot"]
    options = {o["name"]: o for o in record["options"]["color_transfers"]["sliced-ot"]}
    assert options["projections"] == {"name": "projections", "type": "int", "default": 6, "minimum": 1,
                                      "maximum": 64, "help": "random directions per iteration"}
    assert {"iterations", "seed"} <= set(options) and "source_mask" not in options


def test_nst_color_uses_it_and_records_the_plugin(installed, images, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, err = run(["color", *map(str, images), "-o", str(out), "--method", "sliced-ot",
                        "-p", "projections=8"], capsys)
    assert code == 0, err
    assert read_image(out).shape == (24, 32, 3)
    provenance = read_provenance(out)
    # Every option, defaults included, so that the run can be repeated.
    assert provenance["method"] == "sliced-ot" and provenance["options"] == {"projections": 8, "iterations": 10, "seed": 0, "strength": 1.0}
    assert (provenance["plugin"], provenance["version"]) == ("example", installed)
    code, _, err = run(["color", *map(str, images), "-o", str(out), "-m", "sliced-ot", "-p", "projections=65"], capsys)
    assert code == 1 and err.strip() == (
        "error: color transfer 'sliced-ot': option 'projections' must be <= 64; got 65 (set with -p projections=VALUE)"
    )


def test_nst_report_includes_it(installed, tmp_path, capsys):
    code, _, err = run(["report", "-o", str(tmp_path), "--size", "48", "--steps", "1", "-q",
                        "--method", "sliced-ot", "--method", "histogram"], capsys)
    assert code == 0, err
    rows = [r for r in csv.DictReader(open(tmp_path / "report.csv")) if r["method"] == "sliced-ot"]
    assert {r["experiment"] for r in rows} == {"standalone", "after-style-transfer"}
    assert all(r["plugin"] == f"example {installed}" and not r["error"] and float(r["SSIM"]) > 0 for r in rows)
    assert (tmp_path / "plots" / "standalone-sliced-ot.png").is_file()


def test_its_subcommand_runs(installed, tmp_path, capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "sliced-ot-demo" in out
    target = tmp_path / "demo.png"
    code, _, err = run(["sliced-ot-demo", str(target), "--size", "32"], capsys)
    assert code == 0 and err.endswith(f"wrote {target}\n")
    assert read_image(target).shape[1] == 32


def test_disabled_by_its_entry_point_name(installed, images, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NST_DISABLE_PLUGINS", "example")
    set_host(None)
    code, out, _ = run(["plugins"], capsys)
    assert code == 0 and "example" not in {p["name"] for p in json.loads(out)}
    code, _, err = run(["color", *map(str, images), "-o", str(tmp_path / "o.png"), "-m", "sliced-ot"], capsys)
    assert code == 1 and "no color transfer named 'sliced-ot'" in err
    code, _, err = run(["sliced-ot-demo", str(tmp_path / "d.png")], capsys)
    assert code == 2 and "No such command 'sliced-ot-demo'" in err
