"""The npe2 manifest: valid, found through the installed distribution, reachable as package data."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest
from npe2 import PluginManifest

ROOT = Path(__file__).resolve().parents[2]

#: npe2's fixed list (napari hub); anything else is rejected by the hub.
CATEGORIES = {
    "Acquisition", "Annotation", "Dataset", "Image Processing", "IO", "Measurement", "Registration",
    "Segmentation", "Simulation", "Themes", "Transformations", "Utilities", "Visualization",
}


@pytest.fixture(scope="module")
def manifest() -> PluginManifest:
    return PluginManifest.from_distribution("napari-nst")


def test_manifest_is_found_through_the_distribution(manifest: PluginManifest) -> None:
    assert manifest.name == "napari-nst"
    assert all(c.id.startswith("napari-nst.") for c in manifest.contributions.commands)
    assert set(manifest.categories) <= CATEGORIES


def test_package_data_is_the_root_manifest() -> None:
    packaged = resources.files("napari_nst") / "napari.yaml"
    assert packaged.read_text() == (ROOT / "napari.yaml").read_text()
    link = ROOT / "src" / "napari_nst" / "napari.yaml"
    if link.is_symlink():  # the source tree: a relative link, so a wheel gets the file itself
        assert not os.path.isabs(os.readlink(link))


def test_every_command_resolves(manifest: PluginManifest) -> None:
    import importlib

    for command in manifest.contributions.commands:
        module, _, attr = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), command.id


def test_widgets_are_in_plugins_and_layer_filter_menus(manifest: PluginManifest) -> None:
    names = {w.display_name for w in manifest.contributions.widgets}
    assert names == {"Style Transfer", "Color Transfer", "Fast Style", "Evaluate", "Provenance"}
    filters = {item.command for item in manifest.contributions.menus["napari/layers/filter"]}
    assert {"napari-nst.style_transfer", "napari-nst.color_transfer", "napari-nst.fast_style"} <= filters


def test_settings_and_samples_are_declared(manifest: PluginManifest) -> None:
    run = manifest.contributions.configurations["run"]
    assert {"device", "threads", "preview_interval"} == set(run.properties)
    assert {s.key for s in manifest.contributions.sample_data} == {"pair", "content", "style"}
