"""The Evaluate widget: the table of KL / SSIM / Gram distance and the density plot."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.colors import to_hex
from napari.utils.theme import get_theme

from napari_nst._evaluate_jobs import Evaluation, EvaluationRow
from napari_nst._qt import evaluate as evaluate_module
from napari_nst._qt.evaluate import (
    TABLE_COLUMNS,
    EvaluateWidget,
    default_gram_backbone,
    layer_style,
)
from napari_nst._workers import RunFailed

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


def _window_size(window) -> tuple[int, int]:
    return window.width(), window.height()


def _answer(monkeypatch: pytest.MonkeyPatch, evaluation: Evaluation | Exception) -> None:
    """Make the worker return ``evaluation`` (or raise it) instead of measuring."""

    def fake(*_, **__):
        if isinstance(evaluation, Exception):
            raise evaluation
        return evaluation

    monkeypatch.setattr(evaluate_module, "evaluate", fake)


def test_table_and_plot(widget, wait_idle) -> None:
    widget.evaluate()
    wait_idle(widget)
    rows = {row["layer"]: row for row in widget.table_rows()}
    assert set(rows) == {"content", "recoloured"}
    assert rows["content"]["KL R"] == pytest.approx(0.0, abs=1e-9) and rows["content"]["SSIM"] == pytest.approx(1.0)
    assert rows["recoloured"]["KL R"] > 0.01 and rows["recoloured"]["SSIM"] < 1.0
    axes = widget.figure.axes
    assert [ax.get_ylabel() for ax in axes] == ["R", "G", "B"]  # one panel per channel
    assert all(len(ax.lines) == 3 for ax in axes)  # the reference and each layer
    assert isinstance(rows["recoloured"]["Gram distance"], float)


def test_each_column_has_one_number_format(widget, wait_idle) -> None:
    widget.evaluate()
    wait_idle(widget)
    table = widget.table.native
    kl = [table.item(r, 0).text() for r in range(table.rowCount())]
    ssim = [table.item(r, TABLE_COLUMNS.index("SSIM")).text() for r in range(table.rowCount())]
    assert all(re.fullmatch(r"\d\.\d{3}e[-+]\d\d", cell) for cell in kl), kl
    assert all(re.fullmatch(r"-?\d\.\d{4}", cell) for cell in ssim), ssim


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


def test_without_gram_distance_the_status_says_why_once(
    widget, wait_idle, notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nst_engine.errors import WeightsUnavailableError
    from nst_engine.metrics import gram

    def unavailable(*_, **__):
        raise WeightsUnavailableError("no vgg19 weights here; put them in the torch hub cache")

    monkeypatch.setattr(gram, "gram_distances", unavailable)
    widget.evaluate()
    wait_idle(widget)
    rows = widget.table_rows()
    assert all(row["Gram distance"] == "n/a" and row["notes"] is None for row in rows)  # not repeated per row
    assert "no vgg19 weights" in widget.status.value and widget.status.is_error
    assert "no vgg19 weights" in widget.table.native.item(0, TABLE_COLUMNS.index("Gram distance")).toolTip()
    assert any("no vgg19 weights" in message for message in notifications.errors())
    assert isinstance(rows[0]["SSIM"], float)


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
    assert 0 < row["SSIM"] <= 1 and "resizing" in row["notes"] and row["KL R"] is None


def test_nothing_chosen_is_reported_in_the_status_line_and_notified(viewer, images, dock, notifications) -> None:
    widget = dock("Evaluate")
    widget.layers.value = []
    assert widget.evaluate() is None
    assert "choose at least one layer" in notifications.errors()[-1]
    assert "choose at least one layer" in widget.status.value and widget.status.is_error


def test_long_names_and_notes_are_elided_with_the_full_text_in_tooltips(
    laptop_viewer, main_window, images, dock, wait_idle, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, _ = images
    name = "a very long layer name " * 8 + "(the end)"
    note = "a long note that explains a figure " * 10
    layer = laptop_viewer.add_image(content.data, name=name, rgb=True)
    widget = dock("Evaluate")
    qtbot.wait(50)
    size = _window_size(main_window())
    width = widget.native.width()
    assert width < 500  # the long name in the pickers did not widen the dock
    widget.layers.value = [layer]
    widget.structure.value = content
    evaluation = Evaluation([EvaluationRow(name, {"R": 0.1, "G": 0.2, "B": 0.3}, 0.5, 1e-4, (note,))], {}, 256)
    _answer(monkeypatch, evaluation)
    widget.evaluate()
    wait_idle(widget)
    table = widget.table.native
    header = table.verticalHeaderItem(0)
    assert "…" in header.text() and header.text().endswith("end)") and header.toolTip() == name
    assert widget.table_rows()[0]["layer"] == name
    notes = TABLE_COLUMNS.index("notes")
    assert table.item(0, notes).toolTip() == note
    assert table.columnWidth(notes) <= 200 < table.fontMetrics().horizontalAdvance(note)
    assert table.item(0, TABLE_COLUMNS.index("Gram distance")).text() == "1.000e-04"
    assert _window_size(main_window()) == size and widget.native.width() == width


def test_more_than_four_layers_get_distinct_styles(viewer, images, dock, wait_idle) -> None:
    content, style = images
    layers = [content, style] + [
        viewer.add_image(np.ascontiguousarray(np.roll(content.data, 5 * k, axis=1)), name=f"shifted {k}", rgb=True)
        for k in range(4)
    ]
    widget = dock("Evaluate")
    widget.layers.value = layers
    widget.colors.value = content
    widget.structure.value = None
    widget.style.value = None
    widget.evaluate()
    wait_idle(widget)
    for ax in widget.figure.axes:
        styles = {(to_hex(line.get_color()), str(line.get_linestyle())) for line in ax.lines}
        assert len(ax.lines) == 1 + len(layers) and len(styles) == len(ax.lines)
    assert len({(to_hex(c), str(s)) for c, s in map(layer_style, range(100))}) == 100


def test_the_plot_follows_the_napari_theme(widget, viewer, qtbot) -> None:
    assert to_hex(widget.figure.get_facecolor()) == get_theme(viewer.theme).background.as_hex()
    viewer.theme = "light"
    qtbot.wait(10)
    light = get_theme("light")
    assert to_hex(widget.figure.get_facecolor()) == light.background.as_hex()
    ax = widget.figure.axes[0]
    assert to_hex(ax.get_facecolor()) == light.background.as_hex()
    assert to_hex(ax.xaxis.get_ticklabels()[0].get_color()) == light.text.as_hex()


@pytest.mark.parametrize("cached", [False, True])
def test_the_default_gram_backbone_works_offline(cached: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from nst_engine import list_backbones
    from nst_engine.backbones import vgg

    monkeypatch.setattr(vgg, "has_imagenet_weights", lambda arch="vgg19": cached)
    expected = "vgg19" if cached and "vgg19" in list_backbones() else "random-multiscale"
    assert default_gram_backbone() == expected


def test_the_widget_defaults_to_random_multiscale_without_weights(
    viewer, images, dock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nst_engine.backbones import vgg

    monkeypatch.setattr(vgg, "has_imagenet_weights", lambda arch="vgg19": False)
    assert dock("Evaluate").backbone.value == "random-multiscale"


def test_a_long_error_keeps_the_window_size(
    laptop_viewer, main_window, widget, wait_idle, qtbot, notifications, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.wait(50)
    size = _window_size(main_window())
    width = widget.native.width()
    message = "Evaluation failed: " + "the cause and the fix, at length; " * 18
    assert len(message) > 600
    _answer(monkeypatch, RunFailed(message))
    widget.evaluate()
    wait_idle(widget)
    assert widget.status.is_error and widget.status.value == message
    assert message in notifications.errors()
    assert _window_size(main_window()) == size and widget.native.width() == width
