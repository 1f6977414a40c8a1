"""The Style Transfer dock widget: the form, run in napari's generator worker, a live result layer.

Run captures plain arrays on the main thread and runs :func:`napari_nst._workers.stylize_job`
in a worker; its steps update the result layer, the status line and the panel's progress bar
on a timer, so the viewer repaints at most five times a second. Cancel sets the job's cancel
event, which the engine checks between backbone layers: a run stops within a second or two
at any size with the last completed iterate. Deleting the result layer mid-run re-creates it
with the result; closing the panel cancels the run. A large result shows each scale's previews
at that scale's own shape (the layer's ``scale`` keeps it over the content) and can end as a
multiscale layer, which replaces the running one. Each run keeps its own
:class:`~napari_nst._qt._run.RunState`, bound to its worker's signal handlers. Every selected
layer, and all planes without a warm start, run as a batch instead (:mod:`.style_batch`,
:class:`~napari_nst._qt._batch_run.BatchRunner`).
"""

from __future__ import annotations

import traceback
from functools import partial
from typing import Any

import napari
import numpy as np
from napari.layers import Image
from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtCore import QEvent, QObject, QTimer

from nst_engine.errors import NstError
from nst_engine.schedule import MIN_SIDE, scale_shapes

from .._batch_jobs import BatchOutcome, BatchRequest
from .._layers import at_plane, follow_plane, output_geometry, replace_layer, result_kwargs
from .._multiscale import levels_record
from .._workers import JobResult, PlaneEvent, StyleJob, stylize_job
from ._batch_run import BatchRunner
from ._common import notify_error, notify_failure
from ._run import RunState
from .style_batch import make_batch, show_batch, uses_batch
from .style_form import COLOR_MODES, StyleTransferForm

__all__ = ["StyleTransferWidget", "COLOR_MODES"]

#: The widget shows the newest step at most this often. Each repaint costs a whole-window
#: composition (tens of ms with software OpenGL): repainting every step starved the event loop.
UI_INTERVAL_MS = 200


class StyleTransferWidget(StyleTransferForm):
    """Stylise an Image layer (or every plane of a stack) with another layer's style."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._run: RunState | None = None
        self._output: Any = None
        self._batch_info: dict = {}
        super().__init__(viewer)
        self.batch = BatchRunner(self, on_result=self._on_batch_result, on_ended=self._on_batch_ended)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self._close_watch = _OnDetach(self.cancel)  # napari detaches a panel's widget when it is closed
        self.native.installEventFilter(self._close_watch)
        # Closing the viewer deletes the widget's Qt objects (its timers too) while the worker
        # may still yield: stop the run and let no handler touch them again.
        self.native.destroyed.connect(self._abandon)

    @property
    def running(self) -> bool:
        """Whether a run (or a batch) is in progress."""
        return self._run is not None or self.batch.running

    @property
    def output(self) -> Any:
        """The result layer of the latest run."""
        return self._output

    def run(self, *_: Any) -> GeneratorWorker | None:
        """Start a run in a worker thread; input problems are shown in the status line.

        Returns at once, with the panel showing that the run is starting; the result layer is
        made in the next event-loop pass (napari takes ~0.2 s to add a layer with software
        OpenGL), before the worker starts, so no step handler ever has to create it. Its first
        draw (texture upload, shaders) thus falls on the start rather than on a preview; the
        worker's first event fills it with the content plane at the result's size.
        """
        if self.running:
            return self._run.worker if self._run is not None else self.batch.worker
        batch = uses_batch(self)
        try:
            job, info = make_batch(self) if batch else self.make_job()
        except NstError as exc:
            self.status.show_error(f"Not started: {exc}")
            notify_error(f"Style transfer: {exc}")
            return None
        if batch:
            return self._start_batch(job, info)
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(stylize_job, job, _start_thread=False, _ignore_errors=True)
        run = RunState(job, worker, info)
        self._run = run
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.status.value = f"starting: {_plan(job)}"
        self.set_progress(0, int(job.options["steps"]) * len(job.indices))
        QTimer.singleShot(0, partial(self._start, run))
        return worker

    def _start_batch(self, request: BatchRequest, info: dict) -> GeneratorWorker:
        """Every selected layer, or all planes in parallel: a batch on a local cluster (:mod:`.style_batch`)."""
        self._batch_info = info
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        return self.batch.start(request, "Style transfer")

    def _on_batch_result(self, outcome: BatchOutcome) -> None:
        added = show_batch(self._viewer, self.status, outcome, self._batch_info)
        self._output = added[-1] if added else None

    def _on_batch_ended(self) -> None:
        self.run_button.enabled = True
        self.cancel_button.enabled = False

    def _start(self, run: RunState) -> None:
        job, worker = run.job, run.worker
        # 8-bit until the result arrives, like the previews (see PlaneEvent); shown through (0, 255).
        data = np.zeros(job.stack_shape + job.first_hw + (job.channels,), np.uint8)
        data[..., 3:] = 255  # previews are RGB: keep them opaque until the result brings its alpha
        run.output = self._output = self._add_result(run, at_plane(data, job.plane))
        run.timer = QTimer(self.native)
        run.timer.setSingleShot(True)
        run.timer.setInterval(UI_INTERVAL_MS)
        run.timer.timeout.connect(partial(self._flush, run))
        worker.yielded.connect(partial(self._on_step, run))
        worker.returned.connect(partial(self._on_result, run))
        worker.errored.connect(partial(self._on_error, run))
        worker.finished.connect(partial(self._on_finished, run))
        worker.start()

    def _abandon(self, *_: Any) -> None:
        self.batch.abandon()
        run = self._run
        if run is not None:
            run.job.cancel.set()
            run.done = True

    def cancel(self, *_: Any) -> None:
        """Stop within a second or two; the result layer keeps the last completed step (a batch:
        the planes finished so far)."""
        if self.batch.running:
            self.batch.cancel()
            self.cancel_button.enabled = False
        run = self._run
        if run is not None and not run.done:
            run.job.cancel.set()
            self.cancel_button.enabled = False
            self.status.value = "cancelling…"

    def _add_result(self, run: RunState, data: np.ndarray | list[np.ndarray], *, replacing: Any = None) -> Any:
        """Add the result layer (``data`` a list of levels: multiscale), last, or in the place and
        with the look of layer ``replacing``."""
        info = run.info["provenance"]
        styles = ", ".join(info.get("style_layers", [info["style_layer"]]))
        multiscale = isinstance(data, list)
        kwargs = result_kwargs(
            run.info["layer"], data[0] if multiscale else data, name=f"{info['content_layer']} styled ({styles})",
            metadata={"nst": _provenance(run, None, "running")}, source_hw=run.info["source_hw"],
            leading=run.job.is_stack, rgb=True, plane=run.job.plane,
        )
        if replacing is None:
            return self._viewer.add_image(data, multiscale=multiscale, **kwargs)
        return replace_layer(self._viewer, replacing, Image(data, multiscale=multiscale, **kwargs))

    def _set_image(self, run: RunState, data: np.ndarray) -> None:
        """Show ``data`` in the result layer: in place when its shape and dtype are the layer's
        (less main-thread work), else as new data laid over the content (a finer scale)."""
        output = run.output
        if output.data.shape == data.shape and output.data.dtype == data.dtype:
            output.data[...] = data
            output.refresh()
            return
        hw = data.shape[-3:-1]
        geometry = output_geometry(run.info["layer"], run.info["source_hw"], hw, leading=run.job.is_stack,
                                   plane=run.job.plane)
        output.data = data
        output.scale, output.translate = geometry["scale"], geometry["translate"]

    def _has_output(self, run: RunState) -> bool:
        """Whether the run's result layer is still in the viewer (the user may delete it mid-run)."""
        # By id: napari hands plugins proxies of its layers, and two proxies of one layer differ.
        return any(layer.unique_id == run.output.unique_id for layer in self._viewer.layers)

    def _on_step(self, run: RunState, event: PlaneEvent) -> None:
        # Only record the newest step; a timer shows it (see UI_INTERVAL_MS).
        if run.done:
            return
        run.pending = event
        if event.preview is not None:
            run.pending_preview = event
        if not run.timer.isActive():
            run.timer.start()

    def _flush(self, run: RunState) -> None:
        if run.done or run.pending is None:
            return
        event, run.pending = run.pending, None
        preview, run.pending_preview = run.pending_preview, None
        self._show_step(run, event, preview)

    def _show_step(self, run: RunState, event: PlaneEvent, preview: PlaneEvent | None) -> None:
        # Label, progress and preview change in one event-loop pass, so Qt composes the window once.
        unit = "frame" if run.job.temporal else "plane"
        where = f"{unit} {event.plane + 1}/{event.planes} · " if run.job.is_stack else ""
        step = event.step
        if step is None:  # the start frame, or (a clip) a finished frame
            if run.shown is None:
                self.status.value = f"{where}starting: {_plan(run.job)}"
        else:
            self.status.value = (
                f"{where}step {step.step}/{step.total} · scale {step.scale + 1}/{step.scales} · "
                f"loss {step.losses.get('total', float('nan')):.4g}"
            )
            self.set_progress(*(event.progress or (event.plane * step.total + step.step, event.planes * step.total)))
            run.shown = event
        if preview is not None and self._has_output(run):
            if run.job.is_stack and run.previewed not in (None, preview.index):
                # The sliders go along to the plane now shown, unless the user has moved them.
                follow_plane(run.output, self._viewer, run.previewed, preview.index)
            run.previewed = preview.index
            image = preview.preview
            if tuple(run.output.data.shape[-3:-1]) != image.shape[:2]:  # a finer scale began (preview_side)
                data = np.full(at_plane(image, run.job.plane).shape[:-1] + (run.job.channels,), 255, np.uint8)
                data[..., :3] = image[..., :3]
                self._set_image(run, data)
                return
            # In place plus refresh: half the main-thread work of assigning layer.data.
            plane = run.output.data[preview.index] if run.job.is_stack else run.output.data
            plane[..., :3] = image[..., :3]
            run.output.refresh()

    def _on_result(self, run: RunState, result: JobResult) -> None:
        run.done = True
        state = "cancelled" if result.cancelled else "done"
        levels = result.image if isinstance(result.image, list) else None
        image = [at_plane(level, run.job.plane) for level in levels] if levels else at_plane(result.image, run.job.plane)
        note = ""
        if not self._has_output(run):  # deleted mid-run: the finished result comes back as a new layer
            run.output = self._output = self._add_result(run, image)
            note = " (its layer was deleted during the run, so it was added again)"
        elif levels:  # multiscale: a new layer in the running one's place (napari fixes multiscale at creation)
            run.output = self._output = self._add_result(run, image, replacing=run.output)
        else:
            self._set_image(run, image)
        output = run.output
        output.contrast_limits = (0.0, 1.0)
        output.metadata = {**dict(output.metadata), "nst": _provenance(run, result, state)}
        output.visible = True
        if result.cancelled:
            output.name = f"{output.name} (cancelled)"
        video = result.provenance.get("video")
        if video is not None:  # temporal coherence: a clip's figures
            done = f": {video['frames_done']} of {video['frames']} frames in {video['total_s']:.1f} s"
        else:
            steps = result.provenance.get("steps_run")
            seconds = result.provenance.get("timings", {}).get("total_s")
            done = f" in {steps} steps" if steps is not None else ""
            done += f", {seconds:.1f} s" if seconds is not None else ""
        self.status.value = f"{state}: {output.name}{done}{note}"

    def _on_error(self, run: RunState, exc: BaseException) -> None:
        notify_failure(exc)
        run.done = True
        output = run.output
        if run.shown is None or not self._has_output(run):  # no step was computed: leave no layer behind
            if self._has_output(run):
                self._viewer.layers.remove(output)
            run.output = self._output = None
        else:
            output.metadata = {**dict(output.metadata), "nst": _provenance(run, None, f"failed: {exc}")}
            output.name = f"{output.name} (failed)"
        self.status.show_error(str(exc), details=_traceback(exc))

    def _on_finished(self, run: RunState) -> None:
        run.done = True
        if run.timer is not None:
            run.timer.stop()
        if self._run is run:
            self._run = None
            self.run_button.enabled = True
            self.cancel_button.enabled = False
            self.hide_progress()


def _plan(job: StyleJob) -> str:
    """What the run will do, in a line: steps, the scales that will run, size, planes."""
    requested = int(job.options.get("scales", 1))
    ran = len(scale_shapes(job.out_hw, requested))
    scales = f"{ran} scale{'s' * (ran != 1)}"
    if ran < requested:
        scales += f" (of {requested}: a coarser one would be under {MIN_SIDE} px)"
    planes = f", {len(job.indices)} {'frames, temporal coherence' if job.temporal else 'planes'}" if len(job.indices) > 1 else ""
    return f"{job.options['steps']} steps, {scales}, {job.out_hw[1]}×{job.out_hw[0]} px{planes}"


def _traceback(exc: BaseException) -> str:
    """The traceback of the cause behind a worker's failure, for the status line's details."""
    cause = exc.__cause__ or exc
    return "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))


class _OnDetach(QObject):
    """Calls ``callback`` when the watched widget loses its parent (its panel was closed)."""

    def __init__(self, callback: Any) -> None:
        super().__init__()
        self._callback = callback

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ParentChange and watched.parent() is None:
            self._callback()
        return False


def _provenance(run: RunState, result: JobResult | None, state: str) -> dict:
    nst = dict(result.provenance) if result is not None else {}
    inputs = result.inputs if result is not None else {}
    nst["napari"] = {**run.info["provenance"], **inputs, "state": state}
    if result is not None and isinstance(result.image, list):
        nst["napari"]["multiscale_levels"] = levels_record(result.image, rgb=True)
    return nst
