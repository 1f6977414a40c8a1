"""The Evaluate dock widget: a table of per-channel KL, SSIM and Gram distance, and a density plot.

For each chosen layer (its plane under the sliders): ``KL(colors ‖ layer)`` per channel
between kernel density estimates, SSIM of the luminance against the ``structure`` layer, and
the Gram distance to the ``style`` layer; the plot shows each channel's density. Any of the
three references may be left empty to skip its column. The figures are computed in a worker.
"""

from __future__ import annotations

from typing import Any

import napari
import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton, Select, Table
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.layers import Image
from napari.qt.threading import FunctionWorker, create_worker

from nst_engine import list_backbones
from nst_engine.errors import NstError, OptionError

from .._measure import GRAM_UNAVAILABLE, Candidate, Evaluation, EvaluationRow, evaluate, gram_distance_available
from ._common import engine_ready, image_picker, kl_ssim_cells, layer_plane, notify_error, notify_failure

__all__ = ["EvaluateWidget", "TABLE_COLUMNS"]

TABLE_COLUMNS = ("KL R", "KL G", "KL B", "SSIM", "Gram distance", "notes")
_CHANNEL_COLORS = {"R": "tab:red", "G": "tab:green", "B": "tab:blue", "gray": "black"}
_LINESTYLES = ("-", "--", ":", "-.")


class EvaluateWidget(Container):
    """Measure color fidelity, structure and style closeness of chosen layers."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        self._worker: FunctionWorker | None = None
        self.layers = Select(name="layers", label="evaluate", choices=self._images, tooltip="the layers to measure")
        self.colors = image_picker(
            viewer, name="colors", label="colors of", nullable=True,
            tooltip="KL(colors ‖ layer) per channel: the reference of a color transfer, or the content",
        )
        self.structure = image_picker(
            viewer, name="structure", label="structure of", nullable=True,
            tooltip="SSIM against this layer (the content)",
        )
        self.style = image_picker(
            viewer, name="style", label="style of", nullable=True, tooltip="Gram distance to this layer"
        )
        self.backbone = ComboBox(
            name="backbone", label="Gram backbone", choices=_backbones,
            value="vgg19" if "vgg19" in list_backbones() else None,
        )
        self.evaluate_button = PushButton(name="evaluate", text="Evaluate")
        self.status = Label(name="status", label="", value="" if gram_distance_available() else GRAM_UNAVAILABLE)
        self.table = Table(name="table", label="", columns=list(TABLE_COLUMNS))
        self.table.read_only = True
        self.table.min_height = 160
        super().__init__(
            widgets=[
                self.layers, self.colors, self.structure, self.style, self.backbone,
                self.evaluate_button, self.status, self.table,
            ],
            labels=True,
        )
        self.figure = Figure(figsize=(4, 2.6), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(220)
        self.native.layout().addWidget(self.canvas)
        self.evaluate_button.changed.connect(self.evaluate)

    def _images(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    @property
    def running(self) -> bool:
        """Whether an evaluation is in progress."""
        return self._worker is not None

    def make_inputs(self) -> dict[str, Any]:
        """The planes to measure and the references (main thread); raises ``NstError``."""
        chosen = list(self.layers.value or [])
        if not chosen:
            raise OptionError("choose at least one layer to evaluate")
        if self.colors.value is None and self.structure.value is None and self.style.value is None:
            raise OptionError("choose at least one of colors of, structure of and style of")
        plane = lambda layer: None if layer is None else layer_plane(layer, self._viewer)[0]  # noqa: E731
        return {
            "candidates": [Candidate(layer.name, plane(layer)) for layer in chosen],
            "colors": plane(self.colors.value),
            "structure": plane(self.structure.value),
            "style": plane(self.style.value),
            "backbone": self.backbone.value or "vgg19",
        }

    def evaluate(self, *_: Any) -> FunctionWorker | None:
        """Compute the table and the plot in a worker."""
        if self._worker is not None:
            return self._worker
        try:
            inputs = self.make_inputs()
        except NstError as exc:
            notify_error(f"Evaluate: {exc}")
            return None
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(evaluate, inputs.pop("candidates"), _start_thread=False, _ignore_errors=True, **inputs)
        worker.returned.connect(self._show)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.evaluate_button.enabled = False
        self.status.value = "evaluating…"
        worker.start()
        return worker

    def _show(self, evaluation: Evaluation) -> None:
        self.table.value = {
            "data": [_row(r) for r in evaluation.rows],
            "index": [r.name for r in evaluation.rows],
            "columns": list(TABLE_COLUMNS),
        }
        self.table.native.resizeColumnsToContents()
        self._plot(evaluation)
        self.status.value = f"evaluated {len(evaluation.rows)} layer(s)"

    def _plot(self, evaluation: Evaluation) -> None:
        self.figure.clear()
        axes = self.figure.add_subplot(111)
        x = np.linspace(0.0, 1.0, evaluation.grid)
        for k, (name, channels) in enumerate(evaluation.densities.items()):
            style = _LINESTYLES[k % len(_LINESTYLES)]
            for channel, density in channels.items():
                axes.plot(x, density, style, color=_CHANNEL_COLORS.get(channel, "gray"), linewidth=1)
            axes.plot([], [], style, color="black", label=name)
        axes.set_xlabel("value")
        axes.set_ylabel("density")
        axes.set_title("channel densities (KDE)", fontsize=9)
        axes.legend(fontsize=7, loc="upper right")
        axes.tick_params(labelsize=7)
        self.canvas.draw_idle()

    def _on_error(self, exc: BaseException) -> None:
        notify_failure(exc)
        self.status.value = f"failed: {exc}"

    def _on_finished(self) -> None:
        self._worker = None
        self.evaluate_button.enabled = True

    def table_rows(self) -> list[dict[str, Any]]:
        """The table as dicts keyed by ``layer`` and the column names."""
        rows = zip(self.table.row_headers, self.table.data.to_list(), strict=True)
        return [{"layer": name, **dict(zip(TABLE_COLUMNS, row, strict=True))} for name, row in rows]


def _backbones(*_: Any) -> list[str]:
    return list_backbones()


def _row(row: EvaluationRow) -> list[Any]:
    gram: Any = "" if row.gram is None else float(f"{row.gram:.4g}")
    if row.gram is None and any("gram" in note.lower() for note in row.notes):
        gram = "n/a"
    return [*kl_ssim_cells(row.kl, row.ssim), gram, "; ".join(row.notes)]
