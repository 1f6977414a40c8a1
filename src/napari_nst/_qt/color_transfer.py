"""The Color Transfer dock widget: recolour a layer with another's palette, or compare every method.

Apply runs the chosen registered transfer with its generated options form; Compare all runs
every registered transfer (the chosen one with the form's options, the others with their
defaults), adds one layer per method and fills a table with KL(reference ‖ result) per
channel, SSIM(source, result) and the time. The work runs in napari's worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import napari
import numpy as np
from magicgui.widgets import Container, Label, PushButton, Table
from napari.qt.threading import GeneratorWorker, create_worker
from napari.utils import progress

from nst_engine import list_color_transfers
from nst_engine.errors import NstError, OptionError

from .. import __version__
from .._forms import EntryPicker
from .._layers import is_stack, layer_data, leading_axes, plane_indices, plane_of, result_kwargs, scaling_note
from .._measure import ColorJob, ColorOutcome, color_job
from ._common import (
    ALL_PLANES,
    engine_ready,
    image_picker,
    kl_ssim_cells,
    layer_plane,
    notify_error,
    notify_failure,
    plane_picker,
    sync_planes,
)

__all__ = ["ColorTransferWidget", "TABLE_COLUMNS"]

TABLE_COLUMNS = ("KL R", "KL G", "KL B", "SSIM", "time (s)")


class ColorTransferWidget(Container):
    """Recolour a source layer with a reference layer's colors, by any registered method."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        self._worker: GeneratorWorker | None = None
        self.source = image_picker(
            viewer, name="source", label="source", tooltip="the layer to recolour; never modified"
        )
        self.reference = image_picker(
            viewer, name="reference", label="reference", tooltip="the layer whose colors to take"
        )
        self.planes = plane_picker(tooltip="a stack: recolour the plane under the sliders, or every plane")
        self.method = EntryPicker("color_transfers", label="method", value="reinhard", names=list_color_transfers)
        self.apply_button = PushButton(name="apply", text="Apply")
        self.compare_button = PushButton(name="compare", text="Compare all")
        self.status = Label(name="status", label="", value="")
        self.table = Table(name="table", label="", columns=list(TABLE_COLUMNS))
        self.table.read_only = True
        self.table.min_height = 260
        self.table.visible = False
        super().__init__(
            widgets=[
                self.source, self.reference, self.planes, *self.method.widgets,
                Container(widgets=[self.apply_button, self.compare_button], layout="horizontal", labels=False),
                self.status, self.table,
            ],
            labels=True,
        )
        self.source.changed.connect(self._source_changed)
        self.apply_button.changed.connect(self.apply)
        self.compare_button.changed.connect(self.compare_all)
        self._source_changed()

    def _source_changed(self, *_: Any) -> None:
        sync_planes(self.planes, self.source.value)

    def reset_choices(self, *_: Any) -> None:
        """Refresh layer and method choices (napari calls this on layer changes)."""
        super().reset_choices()
        self._source_changed()

    @property
    def running(self) -> bool:
        """Whether a transfer or comparison is in progress."""
        return self._worker is not None

    def make_job(self, *, compare: bool) -> tuple[ColorJob, dict]:
        """Capture the planes and methods of a run (main thread); raises ``NstError`` on bad input."""
        source, reference = self.source.value, self.reference.value
        if source is None or reference is None:
            raise OptionError("choose a source and a reference Image layer")
        chosen = self.method.value
        if chosen is None:
            raise OptionError("no color transfer is registered; check the nst_engine plugin warnings")
        methods = [(chosen, self.method.options())]
        if compare:
            methods += [(name, {}) for name in list_color_transfers() if name != chosen]
        reference_image, reference_index = layer_plane(reference, self._viewer)
        reference_raw = plane_of(layer_data(reference), reference_index)
        data = layer_data(source)
        current = layer_plane(source, self._viewer)[1]
        all_planes = self.planes.value == ALL_PLANES and is_stack(source)
        indices = tuple(plane_indices(source)) if all_planes else (current,)
        lead = leading_axes(source)
        job = ColorJob(
            source=data,
            source_limits=tuple(float(v) for v in source.contrast_limits),
            reference=reference_image,
            indices=indices,
            stack_shape=tuple(np.shape(data)[:lead]) if all_planes else (),
            metric_index=current,
            methods=tuple(methods),
            measure=compare,
        )
        first = plane_of(data, current)
        info = {
            "plugin": "napari-nst",
            "plugin_version": __version__,
            "source_layer": source.name,
            "reference_layer": reference.name,
            "source_planes": "all" if all_planes else list(current),
            "reference_plane": list(reference_index),
            "input_scaling": {
                "source": scaling_note(source, first),
                "reference": scaling_note(reference, reference_raw),
            },
        }
        return job, {"provenance": info, "layer": source, "source_hw": tuple(np.shape(data)[lead : lead + 2])}

    def apply(self, *_: Any) -> GeneratorWorker | None:
        """Recolour with the chosen method and its options; adds one layer."""
        return self._start(compare=False)

    def compare_all(self, *_: Any) -> GeneratorWorker | None:
        """Run every registered method; adds a layer per method and fills the table."""
        return self._start(compare=True)

    def _start(self, *, compare: bool) -> GeneratorWorker | None:
        if self._worker is not None:
            return self._worker
        try:
            job, info = self.make_job(compare=compare)
        except NstError as exc:
            notify_error(f"Color transfer: {exc}")
            return None
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(color_job, job, _start_thread=False, _ignore_errors=True)
        state = _State(job, info, compare)
        self._worker = worker
        self.apply_button.enabled = self.compare_button.enabled = False
        self.status.value = "comparing…" if compare else f"applying {job.methods[0][0]}…"
        state.bar = progress(total=len(job.methods), desc="Color transfer")
        worker.yielded.connect(partial(self._on_outcome, state))
        worker.returned.connect(partial(self._on_done, state))
        worker.errored.connect(partial(self._on_error, state))
        worker.finished.connect(partial(self._on_finished, state))
        worker.start()
        return worker

    def _on_outcome(self, state: _State, outcome: ColorOutcome) -> None:
        state.outcomes.append(outcome)
        info = state.info
        nst = {**outcome.provenance(), "napari": info["provenance"]}
        image = outcome.image
        layer = info["layer"]
        rgb = bool(layer.rgb)
        kwargs = result_kwargs(
            layer, image, name=f"{info['provenance']['source_layer']} [{outcome.method}]", metadata={"nst": nst},
            source_hw=info["source_hw"], leading=bool(state.job.stack_shape), rgb=rgb,
        )
        self.status.value = f"{outcome.method}: {outcome.seconds:.3g} s"
        state.layers.append(self._viewer.add_image(image, **kwargs))
        if state.bar is not None:
            state.busy = True  # napari processes events inside update(): _on_finished may run here
            try:
                state.bar.update(1)
            finally:
                state.busy = False
            if state.finished:
                self._close(state)

    def _on_done(self, state: _State, outcomes: list[ColorOutcome]) -> None:
        if state.compare:
            self.table.value = {
                "data": [_row(o) for o in outcomes],
                "index": [o.method for o in outcomes],
                "columns": list(TABLE_COLUMNS),
            }
            self.table.native.resizeColumnsToContents()
            self.table.visible = True
        self.status.value = f"done: {len(outcomes)} layer(s)"

    def _on_error(self, state: _State, exc: BaseException) -> None:
        notify_failure(exc)
        self.status.value = f"failed: {exc}"

    def _on_finished(self, state: _State) -> None:
        state.finished = True
        if not state.busy:  # a progress bar closed inside its own update crashes Qt
            self._close(state)

    def _close(self, state: _State) -> None:
        bar, state.bar = state.bar, None
        if bar is not None:
            bar.close()
        self._worker = None
        self.apply_button.enabled = self.compare_button.enabled = True

    def table_rows(self) -> list[dict[str, Any]]:
        """The comparison table as dicts keyed by ``method`` and the column names."""
        rows = zip(self.table.row_headers, self.table.data.to_list(), strict=True)
        return [{"method": method, **dict(zip(TABLE_COLUMNS, row, strict=True))} for method, row in rows]


@dataclass(eq=False)
class _State:
    """One Apply or Compare all, bound to its worker's signal handlers."""

    job: ColorJob
    info: dict
    compare: bool
    bar: Any = None
    busy: bool = False
    finished: bool = False
    outcomes: list = field(default_factory=list)
    layers: list = field(default_factory=list)


def _row(outcome: ColorOutcome) -> list[Any]:
    return [*kl_ssim_cells(outcome.kl, outcome.ssim), round(outcome.seconds, 4)]
