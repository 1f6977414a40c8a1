"""Compare all's view: one layer with a leading *method* axis, a table in the same order, Keep.

Every method's result of the plane under the sliders goes into one layer, stacked along a
new first axis that napari shows as a "method" slider, so the results are one slider step
apart in the same place over the source, and the main thread adds one layer however many
methods there are. The table lists the methods in the slider's order; choosing a row moves
the slider and moving the slider chooses the row. Keep turns the method on show into an
ordinary result layer, with its provenance, and discards the comparison layer. A large plane,
or one of a multiscale source, makes it a multiscale layer, each level with the method axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView

from .._color_jobs import ColorOutcome, ColorResult
from .._layers import replace_layer
from ._common import figures_table

__all__ = ["Comparison", "TABLE_COLUMNS", "table_cells", "METHOD_AXIS"]

TABLE_COLUMNS = ("KL R", "KL G", "KL B", "SSIM", "time (s)")
#: The comparison layer's first axis label, which napari shows beside its slider.
METHOD_AXIS = "method"

_COLUMN_TIPS = (
    *(
        f"KL(reference ‖ result) of the {c} channel (Gaussian KDE): lower is closer to the reference's colors"
        for c in ("red", "green", "blue")
    ),
    "SSIM of the luminance between source and result: 1 keeps the source's structure",
    "wall time of the transfer in seconds",
)


def table_cells(outcome: ColorOutcome) -> list[str]:
    """One row of the table, one number format per column (a gray image's one KL fills all three).

    KL spans orders of magnitude, so it is scientific with 4 significant digits; SSIM is in
    [-1, 1] and gets 4 decimals; the time gets 2 decimals of a second.
    """
    return [
        *("" if v is None else f"{v:.3e}" for v in _kl(outcome)),
        "" if outcome.ssim is None else f"{outcome.ssim:.4f}",
        f"{outcome.seconds:.2f}",
    ]


def _kept_levels(layer: Any, row: int) -> Image:
    """Method ``row`` of a multiscale comparison layer as a layer of its own (copies of its levels)."""
    look = {} if layer.rgb else {"colormap": layer.colormap}
    return Image([np.array(level[row]) for level in layer.data], multiscale=True, rgb=layer.rgb,
                 contrast_limits=layer.contrast_limits, scale=layer.scale[1:], translate=layer.translate[1:],
                 axis_labels=layer.axis_labels[1:], **look)


def _kl(outcome: ColorOutcome) -> list[float | None]:
    kl = outcome.kl or {}
    return [kl.get(c, kl.get("gray")) for c in ("R", "G", "B")]


class Comparison:
    """The latest comparison: its layer (while it is in the viewer), its figures and the table."""

    def __init__(self, viewer: Any) -> None:
        self._viewer = viewer
        self.layer: Any = None
        self._rows: list[dict[str, Any]] = []
        self.table = figures_table(
            list(TABLE_COLUMNS),
            tooltip=f"one row per method, in the order of the comparison layer's {METHOD_AXIS!r} slider: "
            "choose a row to show that method; Keep makes the one on show a layer",
        )
        self.table.visible = False
        native = self.table.native
        native.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        native.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        native.currentCellChanged.connect(self._row_chosen)
        viewer.dims.events.current_step.connect(self._follow_slider)

    @property
    def available(self) -> bool:
        """Whether the comparison layer is still in the viewer (it can be kept)."""
        return self.layer is not None and self.layer in self._viewer.layers

    def show(self, result: ColorResult, kwargs: dict[str, Any], *, chosen: str, provenance: dict) -> Any:
        """Show the comparison layer and fill the table.

        ``kwargs`` are :func:`~napari_nst._layers.result_kwargs` of one method's image and
        the source's ``axis_labels``: the method axis is put in front of all three. An
        earlier comparison layer of the same kind is reused: napari's removal of a layer
        (a full garbage collection) and a new layer with its slider cost the main thread
        more than half a second on a laptop-class machine.
        """
        levels = result.levels
        stack = result.stack if levels is None else levels
        methods = [o.method for o in result.outcomes]
        nst = {
            "kind": "color_comparison",
            "methods": methods,
            "results": [o.provenance() for o in result.outcomes],
            "napari": provenance,
        }
        kwargs = {
            **kwargs,
            "name": f"{provenance['source_layer']} [compare all]",
            "metadata": {"nst": nst},
            "scale": (1.0, *kwargs["scale"]),
            "translate": (0.0, *kwargs["translate"]),
            "axis_labels": (METHOD_AXIS, *kwargs["axis_labels"]),
        }
        self._rows = [
            {"method": o.method, **dict(zip(TABLE_COLUMNS, [*_kl(o), o.ssim, o.seconds], strict=True))}
            for o in result.outcomes
        ]
        self.table.value = {
            "data": [table_cells(o) for o in result.outcomes],
            "index": methods,
            "columns": list(TABLE_COLUMNS),
        }
        self._decorate_table()
        layer = self.layer
        if (self.available and layer.rgb == kwargs["rgb"] and layer.ndim == len(kwargs["scale"])
                and layer.multiscale == (levels is not None)):
            layer.data = stack
            for name in ("name", "metadata", "scale", "translate", "axis_labels", "contrast_limits", "colormap"):
                if name in kwargs:
                    setattr(layer, name, kwargs[name])
        else:
            self._discard()
            self.layer = self._viewer.add_image(stack, multiscale=levels is not None, **kwargs)
        row = methods.index(chosen)
        self._select(row)
        self._row_chosen(row)
        return self.layer

    def position(self) -> int | None:
        """The row (method) the comparison layer shows under its slider, or None without one."""
        if not self.available:
            return None
        return int(np.clip(round(self.layer.world_to_data(self._viewer.dims.point)[0]), 0, len(self._rows) - 1))

    def keep(self) -> Any:
        """Turn the comparison layer into an ordinary result layer of the method on show.

        In place: napari drops the method axis from the layer's scale, translate and axis
        labels, and the main thread is spared removing one layer (a full garbage collection)
        and adding another, half a second on a laptop-class machine. napari cannot drop an
        axis of a multiscale layer, so that one is replaced at its place by the kept levels.
        """
        layer, row = self.layer, self.position()
        if row is None:
            return None
        nst = layer.metadata["nst"]
        method = nst["results"][row]
        if layer.multiscale:
            layer = replace_layer(self._viewer, layer, _kept_levels(layer, row))
        else:
            layer.data = np.array(layer.data[row])  # a copy, so the other methods' results are freed
        layer.name = f"{nst['napari']['source_layer']} [{method['method']}]"
        layer.metadata = {"nst": {**method, "napari": {**nst["napari"], "compared_with": nst["methods"]}}}
        self.layer = None
        return layer

    def _discard(self) -> None:
        """Remove the comparison layer, if it is still in the viewer (the table stays)."""
        if self.available:
            self._viewer.layers.remove(self.layer)
        self.layer = None

    def rows(self) -> list[dict[str, Any]]:
        """The table's figures as numbers, keyed by ``method`` and the column names."""
        return [dict(row) for row in self._rows]

    def _decorate_table(self) -> None:
        native = self.table.native
        for column, tip in enumerate(_COLUMN_TIPS):
            native.horizontalHeaderItem(column).setToolTip(tip)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for row in range(native.rowCount()):
            for column in range(native.columnCount()):
                native.item(row, column).setTextAlignment(right)
        native.resizeColumnsToContents()
        # Tall enough for every row: the form scrolls, the table need not.
        chrome = native.horizontalHeader().height() + native.horizontalScrollBar().sizeHint().height()
        self.table.min_height = native.verticalHeader().length() + chrome + 2 * native.frameWidth()
        self.table.visible = True

    def _row_chosen(self, row: int, *_: Any) -> None:
        if self.available and row >= 0:
            # The method axis has scale 1 and translate 0: method ``row`` is at world coordinate ``row``.
            self._viewer.dims.set_point(self._viewer.dims.ndim - self.layer.ndim, row)

    def _follow_slider(self, *_: Any) -> None:
        row = self.position()
        if row is not None and row != self.table.native.currentRow():
            self._select(row)

    def _select(self, row: int) -> None:
        """Choose ``row`` without moving the slider (it is already there, or moves next)."""
        native = self.table.native
        blocked = native.blockSignals(True)
        try:
            native.selectRow(row)
        finally:
            native.blockSignals(blocked)
