"""File > Open Sample > Neural Style Transfer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(("key", "names"), [
    ("pair", ["chelsea (content)", "immunohistochemistry (style)"]),
    ("content", ["chelsea (content)"]),
    ("style", ["immunohistochemistry (style)"]),
])
def test_samples_open(viewer, key: str, names: list[str]) -> None:
    viewer.open_sample("napari-nst", key)
    assert [layer.name for layer in viewer.layers] == names
    assert all(layer.rgb and layer.data.dtype.name == "uint8" for layer in viewer.layers)
