"""Calling color transfers through the host: inputs protected, misbehaving plugins named."""

import numpy as np
import pytest

from nst_engine.errors import NstError, PluginError
from nst_engine.transfers import color_transfer

BAD_TRANSFERS = '''
import numpy as np
from nst_engine import hookimpl

def wrong_shape(source, reference):
    return source[:-1]

def nan(source, reference):
    return np.full(source.shape, np.nan, source.dtype)

def in_place(source, reference):
    source[...] = 0
    return source

def crash(source, reference):
    raise ZeroDivisionError("oops")

@hookimpl
def register_color_transfers(register):
    for fn in (wrong_shape, nan, in_place, crash):
        register(fn.__name__.replace("_", "-"), fn)
'''


@pytest.fixture
def bad_plugin(fresh_host):
    import types

    module = types.ModuleType("nst_bad")
    exec(BAD_TRANSFERS, module.__dict__)
    fresh_host.add_plugin(module, name="nst-bad", version="0.3")
    return fresh_host


@pytest.mark.parametrize(
    "method, message",
    [
        ("wrong-shape", r"color transfer 'wrong-shape' \(plugin nst-bad 0.3\) returned float32 \(3, 4, 3\) for a float32 \(4, 4, 3\)"),
        ("nan", "'nan' .*returned NaN or Inf"),
        ("in-place", "'in-place' .*failed: ValueError: assignment destination is read-only"),
        ("crash", "'crash' .*failed: ZeroDivisionError: oops"),
    ],
)
def test_a_misbehaving_transfer_is_reported_with_its_plugin(bad_plugin, method, message):
    source = np.random.default_rng(0).random((4, 4, 3)).astype(np.float32)
    before = source.copy()
    with pytest.raises(PluginError, match=message):
        color_transfer(source, source, method=method)
    assert np.array_equal(source, before)


def test_masks_are_refused_by_transfers_that_do_not_take_them(bad_plugin):
    with pytest.raises(NstError, match="does not take source_mask"):
        color_transfer(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), method="nan", source_mask=np.ones((4, 4), bool))


def test_builtin_transfer_through_the_host_keeps_dtype_and_validates_options(fresh_host):
    source = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    reference = np.random.default_rng(1).random((6, 5, 3)).astype(np.float32)
    out = color_transfer(source, reference, method="idt", iterations="3", seed=1)
    assert out.dtype == np.uint8 and out.shape == source.shape
    with pytest.raises(NstError, match="no option 'iters'"):
        color_transfer(source, reference, method="idt", iters=3)


def test_a_bound_transfer_is_checked_and_knows_every_option(bad_plugin):
    from nst_engine.transfers import bind_color_transfer

    source = np.random.default_rng(0).random((4, 4, 3)).astype(np.float32)
    with pytest.raises(PluginError, match="'nan' .*returned NaN or Inf"):
        bind_color_transfer("nan")(source, source)
    idt = bind_color_transfer("idt", iterations="3")
    assert idt.options["iterations"] == 3 and idt.options["seed"] == 0 and idt.options["space"] == "rgb"
    assert idt(source, source).dtype == np.float32
    with pytest.raises(NstError, match="no option 'iters'"):
        bind_color_transfer("idt", iters=3)


def _color_files(tmp_path):
    from nst_engine.files import write_image

    rng = np.random.default_rng(0)
    source, reference = tmp_path / "source.png", tmp_path / "reference.png"
    write_image(source, rng.random((12, 16, 3)) * 0.5)
    write_image(reference, 0.5 + rng.random((10, 10, 3)) * 0.5)
    return source, reference


def test_nst_color_records_every_option_including_defaults(fresh_host, tmp_path, capsys):
    from cli_helpers import run

    from nst_engine.files import read_provenance

    source, reference = _color_files(tmp_path)
    out = tmp_path / "out.png"
    code, _, err = run(["color", str(source), str(reference), "-o", str(out), "-m", "idt", "-p", "iterations=3"],
                       capsys)
    assert code == 0, err
    options = read_provenance(out)["options"]
    assert options == {"iterations": 3, "bins": 65536, "seed": 0, "regrain": False,
                       "regrain_smoothness": 0.2, "regrain_shadows": 2.75, "space": "rgb"}


def test_nst_color_refuses_an_unwritable_output_before_working(fresh_host, tmp_path, capsys, monkeypatch):
    from cli_helpers import run

    from nst_engine import transfers

    def never(*args, **kwargs):
        raise AssertionError("the transfer ran")

    monkeypatch.setattr(transfers, "call_color_transfer", never)
    source, reference = _color_files(tmp_path)
    code, _, err = run(["color", str(source), str(reference), "-o", str(tmp_path / "missing" / "out.png")], capsys)
    assert code == 1 and "does not exist" in err
    code, _, err = run(["color", str(source), str(reference), "-o", str(tmp_path / "out.bmpx")], capsys)
    assert code == 1 and "not an image type" in err


def test_nst_color_reads_masks_by_the_engines_mask_reader(fresh_host, tmp_path, capsys):
    from cli_helpers import run

    from nst_engine.files import write_image

    source, reference = _color_files(tmp_path)
    out, small = tmp_path / "out.png", tmp_path / "small.png"
    write_image(small, np.ones((5, 5), np.float32))
    code, _, err = run(["color", str(source), str(reference), "-o", str(out), "--source-mask", str(small)], capsys)
    assert code == 1 and "give a mask of the same size" in err
    left = np.zeros((12, 16), np.uint8)
    left[:, :8] = 3  # a label: nonzero selects
    write_image(tmp_path / "left.png", left)
    code, _, err = run(["color", str(source), str(reference), "-o", str(out), "--source-mask",
                        str(tmp_path / "left.png"), "-m", "mean-std"], capsys)
    assert code == 0, err
