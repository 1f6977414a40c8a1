"""The Style Transfer dock widget: the form, run in napari's generator worker, a live result layer.

Run captures plain arrays on the main thread and runs :func:`napari_nst._workers.stylize_job`
in a worker; its steps update the result layer and the activity dock's progress on timers;
Cancel sends ``"stop"``, which the engine honours within one step and answers with the
partial result. Handlers of the worker's signals may run nested in one another (napari
processes Qt events inside layer creation and progress updates), so each run keeps its own
:class:`~napari_nst._qt._run.RunState` and the result layer is made before the worker starts.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import napari
import numpy as np
from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtCore import QTimer

from nst_engine.errors import NstError
from nst_engine.images import resize_to, split_image

from .._layers import plane_of, result_kwargs, to_unit
from .._workers import JobResult, PlaneEvent, StyleJob, stylize_job
from ._common import notify_error, notify_failure
from ._run import RunState, progress_bars, set_progress
from .style_form import COLOR_MODES, StyleTransferForm, supports_color

__all__ = ["StyleTransferWidget", "COLOR_MODES", "supports_color"]

#: The widget shows the newest step at most this often. Each repaint costs a whole-window
#: composition (tens of ms with software OpenGL): repainting every step starved the event loop.
UI_INTERVAL_MS = 200
#: ... and updates the activity dock's progress bars this often.
PROGRESS_INTERVAL_MS = 1000


class StyleTransferWidget(StyleTransferForm):
    """Stylise an Image layer (or every plane of a stack) with another layer's style."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._run: RunState | None = None
        self._output: Any = None
        super().__init__(viewer)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._run is not None

    @property
    def output(self) -> Any:
        """The result layer of the latest run."""
        return self._output

    def run(self, *_: Any) -> GeneratorWorker | None:
        """Start a run in a worker thread; input problems become an error notification.

        The result layer is made here, showing the content plane until the first preview: napari processes Qt
        events inside layer creation and progress updates, so the handlers of the worker's
        signals may run nested in one another and must never have to create it.
        """
        if self._run is not None:
            return self._run.worker
        try:
            job, info = self.make_job()
        except NstError as exc:
            notify_error(f"Style transfer: {exc}")
            return None
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(stylize_job, job, _start_thread=False, _ignore_errors=True)
        run = RunState(job, worker, info)
        self._run = run
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.status.value = "starting…"
        data = np.zeros(job.stack_shape + job.out_hw + (job.channels,), np.float32)
        data[..., 3:] = 1.0  # previews are RGB: keep them opaque until the result brings its alpha
        _show_content(job, data)
        run.output = self._output = self._add_result(run, data)
        run.bars = progress_bars(job, self.cancel)
        run.timer = QTimer(self.native)
        run.timer.setSingleShot(True)
        run.timer.setInterval(UI_INTERVAL_MS)
        run.timer.timeout.connect(partial(self._flush, run))
        run.progress_timer = QTimer(self.native)
        run.progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        run.progress_timer.timeout.connect(partial(self._show_progress, run))
        run.progress_timer.start()
        worker.yielded.connect(partial(self._on_step, run))
        worker.returned.connect(partial(self._on_result, run))
        worker.errored.connect(partial(self._on_error, run))
        worker.finished.connect(partial(self._on_finished, run))
        worker.start()
        return worker

    def cancel(self, *_: Any) -> None:
        """Stop after the current step; the result layer keeps what was computed so far."""
        run = self._run
        if run is not None and not run.done:
            run.worker.send("stop")
            self.cancel_button.enabled = False
            self.status.value = "cancelling after this step…"

    def _add_result(self, run: RunState, data: np.ndarray) -> Any:
        info = run.info["provenance"]
        styles = ", ".join(info.get("style_layers", [info["style_layer"]]))
        kwargs = result_kwargs(
            run.info["layer"], data, name=f"{info['content_layer']} styled ({styles})",
            metadata={"nst": _provenance(run, None, "running")}, source_hw=run.info["source_hw"],
            leading=run.job.is_stack, rgb=True,
        )
        # Visible at once: napari uploads the texture and compiles the layer's shaders on its first
        # draw; done here, that cost falls on the Run click rather than on the first preview.
        return self._viewer.add_image(data, **kwargs)

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
        if run.busy:  # fired inside a progress update (napari processes events there)
            run.timer.start()
            return
        event, run.pending = run.pending, None
        preview, run.pending_preview = run.pending_preview, None
        self._show_step(run, event, preview)

    def _show_step(self, run: RunState, event: PlaneEvent, preview: PlaneEvent | None) -> None:
        # Label and preview change in one event-loop pass, so Qt composes the window once.
        step = event.step
        where = f"plane {event.plane + 1}/{event.planes} · " if run.job.is_stack else ""
        self.status.value = (
            f"{where}step {step.step}/{step.total} · scale {step.scale + 1}/{step.scales} · "
            f"loss {step.losses.get('total', float('nan')):.4g}"
        )
        run.shown = event
        if preview is not None and not run.done:
            # In place plus refresh: half the main-thread work of assigning layer.data.
            plane = run.output.data[preview.index] if run.job.is_stack else run.output.data
            plane[..., :3] = preview.preview[..., :3]
            run.output.refresh()

    def _show_progress(self, run: RunState) -> None:
        # Its own timer: napari's progress bars process events (and repaint) on every update.
        event = run.shown
        if run.done or run.busy or event is None or not run.bars:
            return
        run.busy = True
        try:
            if run.job.is_stack:
                set_progress(run.bars[0], event.plane)
                run.bars[1].set_description(f"plane {event.plane + 1}/{event.planes}: steps")
            set_progress(run.bars[-1], event.step.step)
        finally:
            run.busy = False
        if run.finished:
            self._close(run)

    def _on_result(self, run: RunState, result: JobResult) -> None:
        run.done = True
        state = "cancelled" if result.cancelled else "done"
        output = run.output
        if output.data.shape == result.image.shape:  # in place, as the previews: less main-thread work
            output.data[...] = result.image
            output.refresh()
        else:
            output.data = result.image
        output.metadata = {**dict(output.metadata), "nst": _provenance(run, result, state)}
        output.visible = True
        if result.cancelled:
            output.name = f"{output.name} (cancelled)"
        steps = result.provenance.get("steps_run")
        self.status.value = f"{state}: {output.name}" + (f" ({steps} steps)" if steps is not None else "")

    def _on_error(self, run: RunState, exc: BaseException) -> None:
        notify_failure(exc)
        run.done = True
        output = run.output
        output.metadata = {**dict(output.metadata), "nst": _provenance(run, None, f"failed: {exc}")}
        output.name = f"{output.name} (failed)"
        self.status.value = f"failed: {exc}"

    def _on_finished(self, run: RunState) -> None:
        run.done = run.finished = True
        if not run.busy:  # else _show_progress closes the bars once their update calls have returned
            self._close(run)

    def _close(self, run: RunState) -> None:
        # A progress bar closed inside its own update (napari processes events there) crashes Qt.
        for timer in (run.timer, run.progress_timer):
            if timer is not None:
                timer.stop()
        bars, run.bars = run.bars, []
        for bar in bars:
            bar.close()
        if self._run is run:
            self._run = None
            self.run_button.enabled = True
            self.cancel_button.enabled = False


def _show_content(job: StyleJob, data: np.ndarray) -> None:
    """Start the result layer from the content's first plane at the result's size (RGB, in place).

    The run starts from the content by default, so the first previews then change little;
    a plane the engine will reject (NaN, say) leaves zeros, and the engine reports it.
    """
    index = job.indices[0]
    try:
        color, _ = split_image(to_unit(plane_of(job.content, index), job.content_limits))
        target = data[index] if job.is_stack else data
        target[..., :3] = resize_to(color, job.out_hw)
    except (NstError, ValueError):
        pass


def _provenance(run: RunState, result: JobResult | None, state: str) -> dict:
    nst = dict(result.provenance) if result is not None else {}
    nst["napari"] = {**run.info["provenance"], "state": state}
    return nst
