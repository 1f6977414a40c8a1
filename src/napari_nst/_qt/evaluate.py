"""The Evaluate dock widget: a table of per-channel KL, SSIM and Gram distance, and a density plot.

For each chosen layer (its plane under the sliders): ``KL(colors ‖ layer)`` per channel
between kernel density estimates, SSIM of the luminance against the ``structure`` layer, and
the Gram distance to the ``style`` layer; the plot shows each channel's density. Any of the
three references may be left empty to skip its column. The figures are computed in a worker.

The panel must fit a laptop screen docked beside the others: the table elides long layer
names and notes (full text in tooltips) and scrolls sideways rather than widening the dock,
and the plot is drawn in napari's theme colours.
"""

from __future__ import annotations

import traceback
from typing import Any

import napari
import numpy as np
from magicgui.widgets import ComboBox, Container, PushButton, Select
from matplotlib import colormaps
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.layers import Image
from napari.qt.threading import FunctionWorker, create_worker
from napari.utils.theme import get_theme
from qtpy.QtCore import QSignalBlocker, Qt
from qtpy.QtWidgets import (
    QAbstractScrollArea,
    QHeaderView,
    QSizePolicy,
    QTableWidgetItem,
)

from nst_engine import list_backbones
from nst_engine.backbones import vgg
from nst_engine.errors import NstError, OptionError

from .._evaluate_jobs import Candidate, Evaluation, EvaluationRow, evaluate
from .._layers import current_index
from .._lazy import capture_plane
from ._common import (
    engine_ready,
    figures_table,
    image_picker,
    kl_ssim_cells,
    notify_error,
    notify_failure,
)
from ._panel import Panel, Section

__all__ = ["EvaluateWidget", "TABLE_COLUMNS", "default_gram_backbone", "layer_style"]

TABLE_COLUMNS = ("KL R", "KL G", "KL B", "SSIM", "Gram distance", "notes")
#: One number format per column, so a column's figures line up and compare at a glance.
#: As in the Color Transfer table: KL spans orders of magnitude (1e-9 for an exact match), so
#: it is scientific; SSIM lies in [-1, 1] and gets 4 decimals.
_FORMATS = {"KL R": "{:.3e}", "KL G": "{:.3e}", "KL B": "{:.3e}", "SSIM": "{:.4f}", "Gram distance": "{:.3e}"}
_HEADER_TIPS = {
    "KL R": "KL(colors ‖ layer) of the red channel's density; 0 means the same colors",
    "KL G": "KL(colors ‖ layer) of the green channel's density; 0 means the same colors",
    "KL B": "KL(colors ‖ layer) of the blue channel's density; 0 means the same colors",
    "SSIM": "SSIM of the luminance against 'structure of'; 1 means the same structure",
    "Gram distance": "Gatys et al.'s Gram distance to 'style of'; lower is closer",
    "notes": "why a figure is missing or approximate",
}
_NAME_WIDTH = 110  # px of the row header: longer layer names are elided in the middle
_NOTES_WIDTH = 200  # px at most of the notes column: longer notes are elided
_ROWS_SHOWN = 6  # rows before the table scrolls
_ROW_ROLE = Qt.ItemDataRole.UserRole  # the unformatted figure (or full text) behind a cell
_CHANNELS = ("R", "G", "B", "gray")
_CHANNEL_COLORS = {"R": "#e5484d", "G": "#46a758", "B": "#3e8ef7", "gray": None}
_REFERENCE = "reference colors"
_LEGEND_CHARS = 28


def default_gram_backbone() -> str | None:
    """``vgg19`` when its ImageNet weights are cached (it works offline), else ``random-multiscale``.

    Without the weights vgg19 would fail on every evaluation with a download error.
    """
    choices = list_backbones()
    if "vgg19" in choices and vgg.has_imagenet_weights("vgg19"):
        return "vgg19"
    if "random-multiscale" in choices:
        return "random-multiscale"
    return choices[0] if choices else None


def layer_style(index: int) -> tuple[Any, Any]:
    """Colour and line style of the ``index``-th layer in the plot, distinct for any index.

    Ten qualitative colours, then the next line style: solid, dashed, dotted, and from there
    a dash followed by ever more dots.
    """
    color = colormaps["tab10"](index % 10)
    cycle = index // 10
    styles: tuple[Any, ...] = ("-", "--", ":")
    linestyle = styles[cycle] if cycle < len(styles) else (0, (6, 2) + (1, 2) * (cycle - 2))
    return color, linestyle


class EvaluateWidget(Panel):
    """Measure color fidelity, structure and style closeness of chosen layers."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        self._worker: FunctionWorker | None = None
        self._evaluation: Evaluation | None = None
        self.layers = Select(
            name="layers", label="evaluate", choices=self._images,
            tooltip="the layers to measure (ctrl- or shift-click for several)",
        )
        self.colors = image_picker(
            viewer, name="colors", label="colors of", nullable=True,
            tooltip="KL(colors ‖ layer) per channel: the reference of a color transfer, or the content",
        )
        self.structure = image_picker(
            viewer, name="structure", label="structure of", nullable=True,
            tooltip="SSIM against this layer (the content); a layer of another size is resized first",
        )
        self.style = image_picker(
            viewer, name="style", label="style of", nullable=True, tooltip="Gram distance to this layer"
        )
        self.backbone = ComboBox(
            name="backbone", label="Gram backbone", choices=_backbones, value=default_gram_backbone(),
            tooltip="the network whose features the Gram distance compares; vgg19 needs its ImageNet "
            "weights, random-multiscale works offline",
        )
        self.evaluate_button = PushButton(name="evaluate", text="Evaluate")
        self.evaluate_button.tooltip = "compute the table and the plot for the chosen layers"
        self.table = figures_table(
            list(TABLE_COLUMNS), tooltip="one row per layer; hover a name or a note for its full text"
        )
        self.figure = Figure(layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setToolTip("each channel's density (the KDE behind the KL), one panel per channel")
        self.canvas.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.plot = Section("Density plot", [], expanded=True, tooltip="show or hide the density plot")
        self.plot.body.native.layout().addWidget(self.canvas)
        inputs = Container(
            name="inputs", widgets=[self.layers, self.colors, self.structure, self.style, self.backbone], labels=True
        )
        inputs.margins = (0, 0, 0, 0)
        super().__init__([inputs, self.table, self.plot], [self.evaluate_button])
        self._setup_table()
        self._plot()
        self.evaluate_button.changed.connect(self.evaluate)
        viewer.events.theme.connect(self._plot)

    def _images(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    @property
    def running(self) -> bool:
        """Whether an evaluation is in progress."""
        return self._worker is not None

    def make_inputs(self) -> dict[str, Any]:
        """The planes to measure and the references (main thread); raises ``NstError``.

        A lazy or multiscale layer's plane is captured unread (:func:`~napari_nst._lazy.capture_plane`):
        the worker reads it.
        """
        chosen = list(self.layers.value or [])
        if not chosen:
            raise OptionError("choose at least one layer to evaluate")
        if self.colors.value is None and self.structure.value is None and self.style.value is None:
            raise OptionError("choose at least one of colors of, structure of and style of")

        def plane(layer: Any) -> Any:
            return None if layer is None else capture_plane(layer, current_index(layer, self._viewer))

        return {
            "candidates": [Candidate(layer.name, plane(layer)) for layer in chosen],
            "colors": plane(self.colors.value),
            "structure": plane(self.structure.value),
            "style": plane(self.style.value),
            "backbone": self.backbone.value or default_gram_backbone(),
        }

    def evaluate(self, *_: Any) -> FunctionWorker | None:
        """Compute the table and the plot in a worker."""
        if self._worker is not None:
            return self._worker
        try:
            inputs = self.make_inputs()
        except NstError as exc:
            self._report(f"Evaluate: {exc}")
            return None
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(evaluate, inputs.pop("candidates"), _start_thread=False, _ignore_errors=True, **inputs)
        worker.returned.connect(self._show)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.evaluate_button.enabled = False
        self.status.value = f"evaluating {len(self.layers.value)} layer(s)…"
        worker.start()
        return worker

    def _show(self, evaluation: Evaluation) -> None:
        self._evaluation = evaluation
        self._fill_table(evaluation)
        self._plot()
        done = f"Evaluated {len(evaluation.rows)} layer(s)"
        if evaluation.gram_note:
            self._report(f"{done} without Gram distances. {evaluation.gram_note}")
        else:
            self.status.value = done

    def _report(self, message: str, details: str = "") -> None:
        """An error where the user looks (the status line) and in napari's notifications."""
        self.status.show_error(message, details=details)
        notify_error(message)

    def _on_error(self, exc: BaseException) -> None:
        notify_failure(exc)
        self.status.show_error(str(exc), details="".join(traceback.format_exception(exc)))

    def _on_finished(self) -> None:
        self._worker = None
        self.evaluate_button.enabled = True

    def table_rows(self) -> list[dict[str, Any]]:
        """The table as dicts keyed by ``layer`` and the column names: figures unformatted,
        ``None`` for an empty cell, ``"n/a"`` for a figure that could not be computed."""
        table = self.table.native
        rows = []
        for r in range(table.rowCount()):
            row: dict[str, Any] = {"layer": table.verticalHeaderItem(r).data(_ROW_ROLE)}
            for c, column in enumerate(TABLE_COLUMNS):
                item = table.item(r, c)
                value = item.data(_ROW_ROLE)
                row[column] = value if value is not None else (item.text() or None)
            rows.append(row)
        return rows

    def _setup_table(self) -> None:
        table = self.table.native
        # Ignored width: the table takes the panel's width and scrolls sideways, never widening the dock.
        table.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
        table.setMinimumWidth(1)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.verticalHeader().setMaximumWidth(_NAME_WIDTH + 12)
        for c, column in enumerate(TABLE_COLUMNS):
            table.horizontalHeaderItem(c).setToolTip(_HEADER_TIPS[column])
        self._fit_height(0)

    def _fill_table(self, evaluation: Evaluation) -> None:
        table = self.table.native
        metrics = table.verticalHeader().fontMetrics()
        # Blocked: magicgui re-parses a cell's text on itemChanged, and these items carry their own figures.
        with QSignalBlocker(table):
            table.setRowCount(len(evaluation.rows))
            for r, row in enumerate(evaluation.rows):
                header = QTableWidgetItem(metrics.elidedText(row.name, Qt.TextElideMode.ElideMiddle, _NAME_WIDTH))
                header.setData(_ROW_ROLE, row.name)
                header.setToolTip(row.name)
                table.setVerticalHeaderItem(r, header)
                for c, item in enumerate(_cells(row, evaluation.gram_note)):
                    table.setItem(r, c, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.resizeColumnsToContents()
        notes = TABLE_COLUMNS.index("notes")
        header.resizeSection(notes, min(header.sectionSize(notes), _NOTES_WIDTH))
        self._fit_height(len(evaluation.rows))

    def _fit_height(self, rows: int) -> None:
        """Height for up to ``_ROWS_SHOWN`` rows (and the sideways scroll bar); more rows scroll."""
        table = self.table.native
        shown = min(max(rows, 2), _ROWS_SHOWN)
        height = (
            table.horizontalHeader().sizeHint().height()
            + shown * table.verticalHeader().defaultSectionSize()
            + table.horizontalScrollBar().sizeHint().height()
            + 2 * table.frameWidth()
            + 2
        )
        table.setFixedHeight(height)

    def _plot(self, *_: Any) -> None:
        """Draw the densities (or an empty frame) in the current napari theme's colours."""
        theme = get_theme(self._viewer.theme)
        background, text, edge = theme.background.as_hex(), theme.text.as_hex(), theme.highlight.as_hex()
        self.figure.clear()
        self.figure.set_facecolor(background)
        densities = self._evaluation.densities if self._evaluation is not None else {}
        channels = [c for c in _CHANNELS if any(c in d for d in densities.values())] or [""]
        axes = self.figure.subplots(len(channels), 1, sharex=True, squeeze=False)[:, 0]
        x = np.linspace(0.0, 1.0, self._evaluation.grid if self._evaluation is not None else 2)
        others = [name for name in densities if name != _REFERENCE]
        entries: dict[str, Any] = {}  # layer name -> one of its lines, for the legend
        for ax, channel in zip(axes, channels, strict=True):
            if _REFERENCE in densities and channel in densities[_REFERENCE]:
                (line,) = ax.plot(x, densities[_REFERENCE][channel], color=text, linewidth=1.8)
                entries.setdefault(_REFERENCE, line)
            for k, name in enumerate(others):
                if channel in densities[name]:
                    color, linestyle = layer_style(k)
                    (line,) = ax.plot(x, densities[name][channel], color=color, linestyle=linestyle, linewidth=1.1)
                    entries.setdefault(name, line)
            ax.set_facecolor(background)
            ax.set_ylabel(channel, color=_CHANNEL_COLORS.get(channel) or text, fontsize=8, rotation=0, labelpad=10)
            ax.tick_params(colors=text, labelsize=7)
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(edge)
        axes[-1].set_xlabel("value (KDE of each channel)", color=text, fontsize=8)
        if entries:
            legend = self.figure.legend(
                list(entries.values()), [_short(name) for name in entries],
                loc="outside lower left", fontsize=7, frameon=False,
            )
            for label in legend.get_texts():
                label.set_color(text)
        self.canvas.setFixedHeight(40 + 64 * len(channels) + 14 * len(entries))
        self.canvas.draw_idle()


def _backbones(*_: Any) -> list[str]:
    return list_backbones()


def _short(name: str) -> str:
    """A legend label: long layer names lose their middle."""
    if len(name) <= _LEGEND_CHARS:
        return name
    half = (_LEGEND_CHARS - 1) // 2
    return f"{name[:half]}…{name[-half:]}"


def _cells(row: EvaluationRow, gram_note: str | None) -> list[QTableWidgetItem]:
    """One row's items: formatted text shown, the figure itself kept under ``_ROW_ROLE``."""
    gram: Any = row.gram
    if gram is None and gram_note is not None:
        gram = "n/a"
    values = [*kl_ssim_cells(row.kl, row.ssim), gram]
    items = []
    for column, value in zip(TABLE_COLUMNS, values):
        number = isinstance(value, float | int) and not isinstance(value, bool)
        item = QTableWidgetItem(_FORMATS[column].format(value) if number else str(value or ""))
        if number:
            item.setData(_ROW_ROLE, float(value))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        items.append(item)
    if gram == "n/a":
        items[-1].setToolTip(gram_note)
    notes = "; ".join(row.notes)
    note = QTableWidgetItem(notes)
    note.setData(_ROW_ROLE, notes or None)
    note.setToolTip(notes)
    return [*items, note]
