"""The Color Transfer dock widget: recolour a layer with another's palette, or compare every method.

Apply runs the chosen registered transfer with its generated options form and adds one
layer; Compare all runs every registered transfer (the chosen one with the form's options,
the others with their defaults) on the plane under the sliders and shows them as one layer
with a "method" slider beside a table of KL(reference ‖ result) per channel, SSIM(source,
result) and the time (see :mod:`.color_compare`). The work runs in napari's generator
worker; the main thread only records its progress, shows it on a timer, and adds the one
result layer at the end (a large result, or one of a multiscale source, as a multiscale layer
whose levels the worker built).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from functools import partial
from typing import Any

import napari
import numpy as np
from magicgui.widgets import Container, PushButton
from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QScrollArea, QWidget

from nst_engine import list_color_transfers
from nst_engine.errors import NstError, OptionError

from .. import __version__
from .._batch_jobs import BatchOutcome, BatchRequest
from .._color_jobs import ColorJob, ColorProgress, ColorResult, color_job
from .._forms import EntryPicker
from .._layers import (
    at_plane,
    current_index,
    is_stack,
    layer_data,
    leading_axes,
    plane_indices,
    result_kwargs,
)
from .._lazy import capture_plane, is_lazy, lazy_levels, plane_note
from .._multiscale import levels_record
from ._batch_run import BatchRunner
from ._common import (
    ALL_PLANES,
    SELECTED_LAYERS,
    engine_ready,
    image_picker,
    notify_error,
    notify_failure,
    pick_apart,
    plane_picker,
    sync_planes,
)
from ._panel import Panel, Section
from .color_batch import make_color_batch, show_color_batch
from .color_compare import METHOD_AXIS, TABLE_COLUMNS, Comparison

__all__ = ["ColorTransferWidget", "TABLE_COLUMNS"]

#: The progress bar and status follow the worker this often: each update repaints the window,
#: tens of milliseconds with software OpenGL.
PROGRESS_INTERVAL_MS = 500


class ColorTransferWidget(Panel):
    """Recolour a source layer with a reference layer's colors, by any registered method."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        self._run: _Run | None = None
        self._batch_info: dict = {}
        self.batch = BatchRunner(self, on_result=self._on_batch_result, on_ended=self._sync_buttons)
        self.source = image_picker(
            viewer, name="source", label="source", selected=True,
            tooltip="the layer to recolour, or every selected Image layer but the reference (Apply only: each "
            "its own result, in parallel on a local Dask cluster); never modified",
        )
        self.reference = image_picker(
            viewer, name="reference", label="reference", tooltip="the layer whose colors to take (its plane under the sliders)"
        )
        self.planes = plane_picker(
            tooltip="a stack: Apply recolours the plane under the sliders (the result is placed at that plane) "
            "or every plane; Compare all always uses the plane under the sliders"
        )
        self.method = EntryPicker("color_transfers", label="method", value="reinhard", names=list_color_transfers)
        self.method.choice.tooltip = "the registered color transfer Apply uses; its options are under Method options"
        self.method.holder.label = ""
        self.method_options = Section(
            "Method options", [self.method.holder],
            tooltip="show or hide the chosen method's options (Compare all runs the other methods with their defaults)",
        )
        self.apply_button = PushButton(name="apply", text="Apply")
        self.apply_button.tooltip = "recolour the source with the chosen method; adds one layer"
        self.compare_button = PushButton(name="compare", text="Compare all")
        self.compare_button.tooltip = (
            f"run every registered method on the plane under the sliders: one layer with a {METHOD_AXIS!r} "
            "slider and a table of figures"
        )
        self.keep_button = PushButton(name="keep", text="Keep", enabled=False)
        self.keep_button.tooltip = (
            "make the method on show in the comparison (the chosen row) its own layer, and discard the comparison"
        )
        self.comparison = Comparison(viewer)
        self.table = self.comparison.table
        inputs = Container(
            name="inputs", widgets=[self.source, self.reference, self.planes, self.method.choice], labels=True
        )
        super().__init__(
            [inputs, self.method_options, self.table], [self.apply_button, self.compare_button, self.keep_button]
        )
        self.source.changed.connect(self._source_changed)
        self.apply_button.changed.connect(self.apply)
        self.compare_button.changed.connect(self.compare_all)
        self.keep_button.changed.connect(self.keep)
        pick_apart(self.reference, self.source)
        self._source_changed()

    def _source_changed(self, *_: Any) -> None:
        sync_planes(self.planes, self.source.value)

    def reset_choices(self, *_: Any) -> None:
        """Refresh layer and method choices (napari calls this on layer changes)."""
        super().reset_choices()
        pick_apart(self.reference, self.source)
        self._source_changed()
        self._sync_buttons()

    @property
    def running(self) -> bool:
        """Whether a transfer, comparison or batch is in progress."""
        return self._run is not None or self.batch.running

    def make_job(self, *, compare: bool) -> tuple[ColorJob, dict]:
        """Capture the planes and methods of a run (main thread); raises ``NstError`` on bad input."""
        source, reference = self.source.value, self.reference.value
        if source is None or reference is None:
            raise OptionError("choose a source and a reference Image layer")
        chosen, options = self._chosen_method()
        if source is SELECTED_LAYERS:
            raise OptionError("Compare all takes one source layer; choose it instead of every selected layer")
        names = list_color_transfers() if compare else [chosen]
        methods = tuple((name, options if name == chosen else {}) for name in names)
        reference_index = current_index(reference, self._viewer)
        data = layer_data(source)
        current = current_index(source, self._viewer)
        all_planes = not compare and self.planes.value == ALL_PLANES and is_stack(source)
        lead = leading_axes(source)
        job = ColorJob(
            source=lazy_levels(source) if is_lazy(source) else data,
            source_limits=tuple(float(v) for v in source.contrast_limits),
            reference=capture_plane(reference, reference_index),
            indices=tuple(plane_indices(source)) if all_planes else (current,),
            stack_shape=tuple(np.shape(data)[:lead]) if all_planes else (),
            methods=methods,
            compare=compare,
        )
        info = {
            "plugin": "napari-nst",
            "plugin_version": __version__,
            "source_layer": source.name,
            "reference_layer": reference.name,
            "source_planes": "all" if all_planes else list(current),
            "reference_plane": list(reference_index),
            "input_scaling": {
                "source": plane_note(source, current),
                "reference": plane_note(reference, reference_index),
            },
        }
        place = {
            "layer": source,
            "source_hw": tuple(np.shape(data)[lead : lead + 2]),
            "plane": () if all_planes else current,
            "chosen": chosen,
        }
        return job, {"provenance": info, **place}

    def apply(self, *_: Any) -> GeneratorWorker | None:
        """Recolour with the chosen method and its options; adds one layer."""
        return self._start(compare=False)

    def compare_all(self, *_: Any) -> GeneratorWorker | None:
        """Run every registered method on the current plane; shows them as one layer and a table."""
        return self._start(compare=True)

    def keep(self, *_: Any) -> Any:
        """The method on show in the comparison as its own result layer; the comparison is discarded."""
        kept = self.comparison.keep()
        if kept is None:
            self._fail("Color transfer: no comparison to keep from; press Compare all first")
        else:
            self.status.value = f"kept {kept.name}"
        self._sync_buttons()
        return kept

    def table_rows(self) -> list[dict[str, Any]]:
        """The comparison's figures as numbers, keyed by ``method`` and the column names, in table order."""
        return self.comparison.rows()

    def _start(self, *, compare: bool) -> GeneratorWorker | None:
        if self.running:
            return self._run.worker if self._run is not None else self.batch.worker
        batch = not compare and self.source.value is SELECTED_LAYERS
        try:
            job, info = self._make_batch() if batch else self.make_job(compare=compare)
        except NstError as exc:
            self._fail(f"Color transfer: {exc}")
            return None
        if batch:
            self._batch_info = info
            worker = self.batch.start(job, f"Color transfer ({info['method']})")
            self._sync_buttons()
            return worker
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(color_job, job, _start_thread=False, _ignore_errors=True)
        run = _Run(job, info, worker, QTimer(self.native))
        self._run = run
        self._sync_buttons()
        what = "comparing" if compare else f"applying {job.methods[0][0]}"
        self.status.value = f"{what}…"
        self.set_progress(0, len(job.methods) * len(job.indices))
        run.timer.setInterval(PROGRESS_INTERVAL_MS)
        run.timer.timeout.connect(partial(self._show_progress, run, what))
        run.timer.start()
        worker.yielded.connect(partial(setattr, run, "latest"))
        worker.returned.connect(partial(self._on_done, run))
        worker.errored.connect(partial(self._on_error, run))
        worker.finished.connect(partial(self._on_finished, run))
        worker.start()
        return worker

    def _chosen_method(self) -> tuple[str, dict]:
        """The chosen method and its form's options; raises ``OptionError`` (showing the field it names)."""
        chosen = self.method.value
        if chosen is None:
            raise OptionError("no color transfer is registered; check the nst_engine plugin warnings")
        try:
            return chosen, self.method.options()
        except OptionError:
            self.method_options.expanded = True  # show the field the message names
            raise

    def _make_batch(self) -> tuple[BatchRequest, dict]:
        chosen, options = self._chosen_method()
        return make_color_batch(self, method=chosen, options=options)

    def _on_batch_result(self, outcome: BatchOutcome) -> None:
        show_color_batch(self._viewer, self.status, outcome, self._batch_info)

    def _show_progress(self, run: _Run, what: str) -> None:
        latest = run.latest
        if latest is not None and self._run is run:
            self.set_progress(latest.done, latest.total)
            self.status.value = f"{what}: {latest.method} ({latest.done}/{latest.total})…"

    def _on_done(self, run: _Run, result: ColorResult) -> None:
        info = run.info
        layer, plane, provenance = info["layer"], info["plane"], info["provenance"]
        if result.levels is not None:
            provenance = {**provenance, "multiscale_levels": levels_record(result.levels, rgb=bool(layer.rgb))}
        first = result.outcomes[0]
        image = at_plane(first.image, plane)
        kwargs = result_kwargs(
            layer, image, name=f"{provenance['source_layer']} [{first.method}]",
            metadata={"nst": {**first.provenance(), "napari": provenance}},
            source_hw=info["source_hw"], leading=bool(run.job.stack_shape), rgb=bool(layer.rgb), plane=plane,
        )
        if not run.job.compare:
            levels = result.levels
            data = image if levels is None else [at_plane(level, plane) for level in levels]
            self._viewer.add_image(data, multiscale=levels is not None, **kwargs)
            self.status.value = f"done: {kwargs['name']}"
            return
        kwargs["axis_labels"] = tuple(layer.axis_labels)
        self.comparison.show(result, kwargs, chosen=info["chosen"], provenance=provenance)
        where = f" of plane {list(plane)}" if plane else ""
        self.status.value = (
            f"compared {len(result.outcomes)} methods{where}: move the {METHOD_AXIS!r} slider or choose a row, "
            "then Keep"
        )
        QTimer.singleShot(0, partial(_scroll_to, self.table.native))

    def _on_error(self, run: _Run, exc: BaseException) -> None:
        notify_failure(exc)
        self.status.show_error(str(exc), details="".join(traceback.format_exception(exc)))

    def _on_finished(self, run: _Run) -> None:
        run.timer.stop()
        if self._run is run:
            self._run = None
            self.hide_progress()
            self._sync_buttons()

    def _fail(self, message: str) -> None:
        """An error the user must see: in the status line, where they look, and as a notification."""
        self.status.show_error(message)
        notify_error(message)

    def _sync_buttons(self) -> None:
        idle = not self.running
        self.apply_button.enabled = self.compare_button.enabled = idle
        self.keep_button.enabled = idle and self.comparison.available


def _scroll_to(widget: QWidget) -> None:
    """Scroll the panel's form so that ``widget`` (the table, after Compare all) is in view."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    if parent is not None:
        parent.ensureWidgetVisible(widget)


@dataclass(eq=False)
class _Run:
    """One Apply or Compare all: its job, what places the result, its worker and progress timer."""

    job: ColorJob
    info: dict
    worker: GeneratorWorker
    timer: QTimer
    latest: ColorProgress | None = None
