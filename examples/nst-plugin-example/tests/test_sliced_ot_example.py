"""The example plugin's own tests, written with napari-nst's testing kit.

``nst_register`` and ``nst_host`` are fixtures of the kit's pytest plugin, which installing
napari-nst enables: no conftest needed. (The file name is unique on purpose: napari-nst's
suite collects these tests together with its own.)
"""

import json

import numpy as np
import pytest
from nst_engine.cli import main
from nst_engine.errors import ImageError, OptionError
from nst_engine.files import read_image, read_provenance
from nst_engine.testing import check_color_transfer
from nst_engine.transfers import color_transfer

import nst_plugin_example
from nst_plugin_example import sliced_ot


@pytest.fixture
def example(nst_register):
    """The plugin registered in an isolated host, as the entry point would register it."""
    return nst_register(nst_plugin_example, name="example", version="test")


def test_the_transfer_meets_the_color_transfer_contract():
    check_color_transfer(sliced_ot)


@pytest.mark.parametrize("projections", [1, 4, 64])
def test_any_number_of_projections_meets_the_contract(projections):
    check_color_transfer(sliced_ot, projections=projections, iterations=2)


def test_the_registered_entry_meets_the_contract(example):
    assert example.provides["color_transfers"] == ["sliced-ot"]
    check_color_transfer("sliced-ot")


def test_the_colors_arrive():
    rng = np.random.default_rng(0)
    source = rng.normal((0.3, 0.5, 0.6), 0.05, (64, 64, 3)).clip(0, 1).astype(np.float32)
    reference = rng.normal((0.7, 0.4, 0.2), 0.12, (48, 40, 3)).clip(0, 1).astype(np.float32)
    out = sliced_ot(source, reference, iterations=20).reshape(-1, 3)
    ref = reference.reshape(-1, 3)
    np.testing.assert_allclose(out.mean(0), ref.mean(0), atol=0.01)
    np.testing.assert_allclose(np.cov(out.T), np.cov(ref.T), atol=2e-3)


def test_masks_choose_the_pixels_whose_colors_count():
    source = np.full((8, 8, 3), 0.5, np.float32)
    reference = np.zeros((8, 8, 3), np.float32)
    reference[:, 4:] = 1.0
    left = np.zeros((8, 8), bool)
    left[:, :4] = True
    assert sliced_ot(source, reference, reference_mask=left).max() < 0.01


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"source": np.full((4, 4, 3), np.nan)}, "NaN"),
        ({"source_mask": np.ones((3, 3), bool)}, "source_mask has shape"),
        ({"reference_mask": np.zeros((4, 4), bool)}, "selects no pixel"),
    ],
)
def test_bad_input_is_refused_with_the_fix(kwargs, message):
    args = {"source": np.zeros((4, 4, 3)), "reference": np.ones((4, 4, 3))} | kwargs
    with pytest.raises(ImageError, match=message):
        sliced_ot(**args)


def test_options_come_from_the_signature(example):
    out = color_transfer(np.zeros((6, 6, 3), np.uint8), np.ones((5, 5, 3), np.uint8),
                         method="sliced-ot", projections="8")
    assert out.dtype == np.uint8
    with pytest.raises(OptionError, match="must be <= 64"):
        color_transfer(np.zeros((6, 6, 3)), np.ones((5, 5, 3)), method="sliced-ot", projections=65)


def test_the_subcommand_writes_a_recoloured_sample(example, tmp_path, capsys):
    out = tmp_path / "demo.png"
    with pytest.raises(SystemExit) as done:
        main(["sliced-ot-demo", str(out), "--size", "32", "--projections", "3"])
    assert done.value.code == 0, capsys.readouterr().err
    assert read_image(out).shape[1] == 32
    assert read_provenance(out)["method"] == "sliced-ot"


def test_the_plugin_is_listed_with_what_it_provides(example, capsys):
    with pytest.raises(SystemExit):
        main(["plugins"])
    record = next(p for p in json.loads(capsys.readouterr().out) if p["name"] == "example")
    assert record["hooks"] == ["register_color_transfers", "register_commands"] and not record["errors"]


def test_strength_zero_is_the_identity_and_meets_the_contract():
    check_color_transfer(sliced_ot, strength=0.0)
    image = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    np.testing.assert_array_equal(sliced_ot(image, image[::-1], strength=0.0), image)
