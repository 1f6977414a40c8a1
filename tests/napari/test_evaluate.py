"""The Evaluate widget: the table of KL / SSIM / Gram distance and the density plot."""

from __future__ import annotations

import numpy as np
import pytest

from napari_nst._measure import gram_distance_available
from napari_nst._qt.evaluate import EvaluateWidget

pytestmark = pytest.mark.gui


@pytest.fixture
def widget(viewer, images, dock) -> EvaluateWidget:
    content, style = images
    recoloured = viewer.add_image(np.ascontiguousarray(content.data[..., ::-1]), name="recoloured", rgb=True)
    widget = dock("Evaluate")
    widget.layers.value = [content, recoloured]
    widget.colors.value = content
    widget.structure.value = content
    widget.style.value = style
    widget.backbone.value = "random-multiscale"
    return widget


def test_table_and_plot(widget, wait_idle) -> None:
    widget.evaluate()
    wait_idle(widget)
    rows = {row["layer"]: row for row in widget.table_rows()}
    assert set(rows) == {"content", "recoloured"}
    assert rows["content"]["KL R"] == pytest.approx(0.0, abs=1e-9) and rows["content"]["SSIM"] == pytest.approx(1.0)
    assert rows["recoloured"]["KL R"] > 0.01 and rows["recoloured"]["SSIM"] < 1.0
    axes = widget.figure.axes
    assert len(axes) == 1 and len(axes[0].lines) >= 3 * 3  # R, G, B of the reference and of each layer
    if gram_distance_available():
        assert isinstance(rows["recoloured"]["Gram distance"], float)


@pytest.mark.skipif(not gram_distance_available(), reason="nst_engine.metrics.gram_distances is missing")
def test_gram_distance_is_measured(viewer, images, widget, wait_idle, monkeypatch: pytest.MonkeyPatch) -> None:
    from nst_engine.metrics import gram

    built = []
    create = gram.create_backbone
    monkeypatch.setattr(gram, "create_backbone", lambda *a, **k: built.append(a) or create(*a, **k))
    _, style = images
    widget.layers.value = [*widget.layers.value, style]
    widget.evaluate()
    wait_idle(widget)
    rows = {row["layer"]: row for row in widget.table_rows()}
    assert rows["style"]["Gram distance"] == pytest.approx(0.0, abs=1e-12)
    assert rows["content"]["Gram distance"] > 0
    assert len(built) == 1  # one backbone and one set of style Grams for all three layers


def test_without_gram_distance_the_cell_says_why(widget, wait_idle, monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_nst import _measure

    monkeypatch.setattr(_measure, "gram_distance_available", lambda: False)
    widget.evaluate()
    wait_idle(widget)
    row = widget.table_rows()[0]
    assert row["Gram distance"] == "n/a" and "gram_distances" in row["notes"]
    assert isinstance(row["SSIM"], float)


def test_layers_of_another_size_are_compared_after_resizing(viewer, images, dock, wait_idle) -> None:
    content, _ = images
    small = viewer.add_image(np.ascontiguousarray(content.data[::2, ::2]), name="small", rgb=True)
    widget = dock("Evaluate")
    widget.layers.value = [small]
    widget.structure.value = content
    widget.colors.value = None
    widget.style.value = None
    widget.evaluate()
    wait_idle(widget)
    (row,) = widget.table_rows()
    assert 0 < row["SSIM"] <= 1 and "resizing" in row["notes"] and row["KL R"] in ("", None)


def test_nothing_chosen_notifies(viewer, images, dock, notifications) -> None:
    widget = dock("Evaluate")
    widget.layers.value = []
    assert widget.evaluate() is None
    assert "choose at least one layer" in notifications.errors()[-1]
