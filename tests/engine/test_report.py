"""``nst report`` end to end on small images, a plugin's transfer included."""

import csv
import json
import types

from nst_engine.cli import main

PLUGIN = '''
from nst_engine import hookimpl

def invert(source, reference, *, strength: float = 1.0):
    """Not a color transfer at all: the test only needs it to show up in the report."""
    return (source.max() - source).astype(source.dtype) if strength else source

def broken(source, reference):
    return source[:1]

@hookimpl
def register_color_transfers(register):
    register("invert", invert)
    register("broken", broken)
'''


def test_report_covers_every_transfer_in_both_experiments(fresh_host, tmp_path, capsys):
    module = types.ModuleType("nst_invert")
    exec(PLUGIN, module.__dict__)
    fresh_host.add_plugin(module, name="nst-invert", version="1.2")
    try:
        main(["report", "-o", str(tmp_path), "--size", "48", "--steps", "2", "-q"])
    except SystemExit as done:
        assert done.code == 0
    rows = list(csv.DictReader(open(tmp_path / "report.csv")))
    methods = {r["method"] for r in rows}
    assert {"histogram", "idt", "reinhard", "mkl", "invert", "broken", "none"} <= methods
    assert {r["experiment"] for r in rows} == {"standalone", "after-style-transfer"}
    histogram = next(r for r in rows if r["method"] == "histogram" and r["experiment"] == "standalone")
    invert = next(r for r in rows if r["method"] == "invert" and r["experiment"] == "standalone")
    assert float(histogram["KL R"]) < float(invert["KL R"])
    assert invert["plugin"] == "nst-invert 1.2"
    broken = next(r for r in rows if r["method"] == "broken")
    assert "must keep the source's shape" in broken["error"]
    payload = json.loads((tmp_path / "report.json").read_text())
    assert payload["settings"]["size"] == 48 and len(payload["rows"]) == len(rows)
    assert "| standalone | histogram |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "plots" / "standalone-invert.png").stat().st_size > 1000
    assert not (tmp_path / "plots" / "standalone-broken.png").exists()


def test_nst_report_compares_the_three_methods_with_the_backbone_named(tmp_path, capsys):
    try:
        main(["report", "--nst", "-o", str(tmp_path), "--nst-size", "32", "--nst-size", "48", "--steps", "2", "-q"])
    except SystemExit as done:
        assert done.code == 0
    rows = list(csv.DictReader(open(tmp_path / "nst-report.csv")))
    assert [(r["method"], r["size"]) for r in rows] == [
        (m, s) for s in ("32²", "48²") for m in ("gatys", "dynamic-weighting", "multi-scale-loss")]
    assert all(r["backbone"] == "random-multiscale" for r in rows)
    assert all(0 < float(r["SSIM (content)"]) <= 1 and float(r["Gram distance (style)"]) > 0 for r in rows)
    assert all(float(r["seconds"]) > 0 for r in rows)
    assert "Style transfer report" in (tmp_path / "nst-report.md").read_text()
