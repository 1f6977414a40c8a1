"""The Fast Style dock widget: a feed-forward model on the plane under the sliders, or every plane.

A trained network (Johnson et al. 2016, optionally with several styles by conditional instance
norm; or AdaIN, Huang & Belongie 2017, styling with any image) needs one forward pass per
plane, so with **follow the sliders** on, moving a dims slider stylises the plane it shows. The
model file is read in a worker (:func:`napari_nst._fast_jobs.load_fast_model`), and every run
is :func:`napari_nst._fast_jobs.fast_job` in napari's generator worker. At most one run goes at
a time: slider moves during a run leave one request, for the plane shown when the run ends
(the newest wins), so scrubbing never queues a backlog. Each content layer has one result
layer per model, ``<content> fast (<model stem>)``, filled in place as planes arrive; planes
not done yet are transparent, and planes already done with the same settings are not redone.
A large result, or one of a multiscale content, is a multiscale layer from the start: each
plane comes from the worker with its halves, one per level.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import napari
import numpy as np
from magicgui.widgets import CheckBox, Container, FileEdit, FloatSlider, Label, LineEdit, PushButton, SpinBox
from napari.qt.threading import FunctionWorker, GeneratorWorker, create_worker
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy

from nst_engine.errors import NstError, OptionError

from .._fast_jobs import FastJob, FastPlane, FastResult, LoadedModel, call_options, fast_job, load_fast_model
from .._fast_results import level_arrays, mark_done, planes_done, result_layer
from .._layers import current_index, is_stack, layer_data, leading_axes, output_hw, plane_indices
from .._lazy import capture_plane, is_lazy, lazy_levels
from .._multiscale import result_levels
from .._settings import run_settings
from ._common import (
    ALL_PLANES,
    CURRENT_PLANE,
    engine_ready,
    image_picker,
    notify_error,
    notify_failure,
    pick_apart,
    plane_picker,
    sync_planes,
)
from ._panel import Panel

__all__ = ["FastStyleWidget", "UI_INTERVAL_MS"]

#: Finished planes are put into the result layer at most this often: each refresh repaints
#: the window (tens of ms with software OpenGL), and a small model finishes planes faster.
UI_INTERVAL_MS = 100


class FastStyleWidget(Panel):
    """Stylise an Image layer (its plane under the sliders, or every plane) with a trained model."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        self._loaded: LoadedModel | None = None
        self._load: FunctionWorker | None = None
        self._apply_after_load: str | None = None  # the planes an Apply waiting for the model asked for
        self._loaded_key: tuple | None = None  # the file the loaded model came from (see _key)
        self._failed_key: tuple | None = None  # the file that failed to load last: not retried unasked
        self._run: _Run | None = None
        self._queued = False  # a slider move arrived during a run: do the plane shown when it ends
        self._closed = False
        self.model_file = FileEdit(name="model_file", label="model", mode="r", filter="*.pt *.pth")
        self.model_file.tooltip = "a model saved by nst_engine.models.save_model, or a pytorch/examples .pth"
        self.sha256 = LineEdit(name="sha256", label="SHA-256", value="")
        self.sha256.tooltip = ("optional: the file's expected SHA-256 (or its first 8+ hex digits); "
                               "a file that differs is refused")
        self.model_info = Label(name="model_info", label="loaded", value="no model loaded")
        self.model_info.tooltip = "the loaded model: its kind, styles and parameters"
        self.model_info.native.setWordWrap(True)
        # Ignored: a long summary wraps in the width it gets instead of widening the panel.
        self.model_info.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.content = image_picker(viewer, name="content", label="content",
                                    tooltip="the layer to stylise; never modified")
        self.planes = plane_picker(tooltip="a stack: Apply stylises the plane under the sliders or every plane")
        self.style_index = SpinBox(name="style_index", label="style", min=0, max=0, value=0)
        self.style_index.tooltip = "which of the model's learnt styles to apply, from 0"
        self.style_mix = LineEdit(name="style_mix", label="mix", value="")
        self.style_mix.tooltip = "weights over the styles, blending them (e.g. 0.5, 0.5); empty: the style above alone"
        self.style = image_picker(viewer, name="style", label="style image", nullable=True, tooltip=(
            "AdaIN takes its style from this layer's plane under the sliders (reduced to 512 px)"))
        self.alpha = FloatSlider(name="alpha", label="alpha", min=0.0, max=1.0, step=0.05, value=1.0)
        self.alpha.tooltip = "stylisation strength: 0 keeps the content, 1 the full style"
        self.size = SpinBox(name="size", label="size", min=0, max=8192, value=0)
        self.size.tooltip = "longer side of the result in pixels; 0: the layer's own"
        self.follow = CheckBox(name="follow", text="follow the sliders", value=False)
        self.follow.tooltip = "stylise each plane the dims sliders show, as they move (the newest plane wins)"
        self.apply_button = PushButton(name="apply", text="Apply")
        self.apply_button.tooltip = "stylise the chosen planes into the result layer '<content> fast (<model>)'"
        self.cancel_button = PushButton(name="cancel", text="Cancel", enabled=False)
        self.cancel_button.tooltip = "stop after the plane being done; the planes done are kept"
        self.inputs = Container(name="inputs", labels=True, widgets=[
            self.model_file, self.sha256, self.model_info, self.content, self.planes, self.style_index,
            self.style_mix, self.style, self.alpha, self.size, self.follow,
        ])
        super().__init__([self.inputs], [self.apply_button, self.cancel_button])
        self._timer = QTimer(self.native)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UI_INTERVAL_MS)
        self._timer.timeout.connect(self._flush)
        self.model_file.changed.connect(self._model_changed)
        self.sha256.native.editingFinished.connect(self._model_changed)
        self.content.changed.connect(self._content_changed)
        self.follow.changed.connect(self._follow_changed)
        self.apply_button.changed.connect(self.apply)
        self.cancel_button.changed.connect(self.cancel)
        viewer.dims.events.current_step.connect(self._on_dims)
        self.native.destroyed.connect(self._abandon)
        self._show_model_fields()
        self._default_style()
        self._content_changed()

    @property
    def running(self) -> bool:
        """Whether a model is loading or a run is in progress."""
        return self._load is not None or self._run is not None

    @property
    def model(self) -> LoadedModel | None:
        """The loaded model, if it is the one the form names."""
        return self._loaded if self._loaded is not None and self._loaded_key == self._key() else None

    def reset_choices(self, *_: Any) -> None:
        """Refresh the layer choices (napari calls this on layer changes)."""
        super().reset_choices()
        self._default_style()
        self._content_changed()

    def apply(self, *_: Any) -> GeneratorWorker | None:
        """Stylise the chosen planes; loads the model first if the form names another."""
        if self._run is not None:
            return self._run.worker
        return self._request(self.planes.value)

    def cancel(self, *_: Any) -> None:
        """Stop before the next plane; the result layer keeps the planes done."""
        self._queued = False
        self._apply_after_load = None
        if self._run is not None and not self._run.job.cancel.is_set():
            self._run.job.cancel.set()
            self.cancel_button.enabled = False
            self.status.value = "cancelling after this plane…"

    # The model ------------------------------------------------------------------------------

    def _key(self) -> tuple | None:
        """What identifies the model the form names: the file (path, size, mtime) and the SHA-256 asked for."""
        path = Path(str(self.model_file.value)).expanduser()
        if not str(self.model_file.value) or str(self.model_file.value) == "." or not path.is_file():
            return None
        stat = path.stat()
        return (str(path), stat.st_size, stat.st_mtime_ns, self.sha256.value.strip().lower())

    def _model_changed(self, *_: Any) -> None:
        if self._key() is None:
            self.model_info.value = "no model loaded" if not str(self.model_file.value).strip(".") else "no such file"
            return
        if self.model is None and self._key() != self._failed_key:
            self._start_load()

    def _start_load(self) -> None:
        key = self._key()
        if self._load is not None or key is None:
            return  # a load in progress: when it ends, the form's newest file is loaded
        self.model_info.value = f"loading {Path(key[0]).name}…"
        self.status.value = f"loading the model {Path(key[0]).name}…"
        worker = create_worker(load_fast_model, key[0], sha256=key[3] or None, device=run_settings().device,
                               _start_thread=False, _ignore_errors=True)
        self._load = worker
        worker.returned.connect(partial(self._on_loaded, key))
        worker.errored.connect(partial(self._on_load_error, key))
        worker.finished.connect(self._on_load_finished)
        self._sync_buttons()
        worker.start()

    def _on_loaded(self, key: tuple, loaded: LoadedModel) -> None:
        if self._closed:
            return
        self._loaded, self._loaded_key = loaded, key
        self.model_info.value = loaded.summary()
        self.status.value = f"loaded {Path(loaded.path).name}"
        self._show_model_fields()

    def _on_load_error(self, key: tuple, exc: BaseException) -> None:
        if self._closed:
            return
        self._loaded = self._loaded_key = None
        self._failed_key = key
        self._apply_after_load = None
        self.model_info.value = "no model loaded"
        self._show_model_fields()
        self._fail(str(exc), exc)

    def _on_load_finished(self) -> None:
        self._load = None
        if self._closed:
            return
        key = self._key()
        if key is not None and key not in (self._loaded_key, self._failed_key):
            self._start_load()  # the form named another file while this one loaded
        elif self.model is not None and self._apply_after_load is not None:
            planes, self._apply_after_load = self._apply_after_load, None
            self._request(planes)
        elif self.model is not None and self.follow.value:
            self._request(None)
        self._sync_buttons()

    def _show_model_fields(self) -> None:
        """The style fields of the loaded model only: several styles, or a style image."""
        model = self._loaded
        cin = model is not None and model.styles > 1
        adain = model is not None and model.model.needs_style
        if cin:
            self.style_index.max = model.styles - 1
        for widget, shown in ((self.style_index, cin), (self.style_mix, cin), (self.style, adain), (self.alpha, adain)):
            widget.visible = shown

    # Runs -----------------------------------------------------------------------------------

    def _default_style(self) -> None:
        """A style layer other than the content (a "... (style)" one first), when there is none yet."""
        if self.style.value is None:
            others = [layer for layer in self.style.choices if layer is not None and layer is not self.content.value]
            styled = [layer for layer in others if str(layer.name).endswith("(style)")]
            if others:
                self.style.value = (styled or others)[0]
        pick_apart(self.style, self.content)

    def _content_changed(self, *_: Any) -> None:
        sync_planes(self.planes, self.content.value)

    def _follow_changed(self, *_: Any) -> None:
        if self.follow.value:
            self._request(None)

    def _on_dims(self, *_: Any) -> None:
        if self._closed or not self.follow.value or self.model is None:
            return
        if self._run is not None:
            self._queued = True
            return
        layer = self.content.value
        # In the viewer still: closing the viewer removes the layers, then moves the sliders.
        if layer is not None and is_stack(layer) and any(found.unique_id == layer.unique_id
                                                         for found in self._viewer.layers):
            self._request(None)

    def _request(self, planes: str | None) -> GeneratorWorker | None:
        """Start a run of ``planes`` (None: the shown plane, for the sliders), loading the model first."""
        if self.model is None:
            if self._key() is None:
                if planes is not None:
                    self._fail("Fast style: choose a model file (.pt or .pth) first")
                return None
            if planes is not None:
                self._apply_after_load = planes
                self._failed_key = None  # asked again: try again
            if self._key() != self._failed_key:
                self._start_load()
            return None
        try:
            job, info = self._make_job(planes or CURRENT_PLANE)
        except NstError as exc:
            self._fail(f"Fast style: {exc}")
            return None
        if not job.indices:
            done = _planes_text(info["wanted"])
            self.status.value = f"{info['output'].name}: {done} already done with these settings"
            return None
        return self._start(job, info)

    def _make_job(self, planes: str) -> tuple[FastJob, dict]:
        """Capture the planes not done yet and the options of a run (main thread); raises ``NstError``."""
        loaded = self.model
        layer = self.content.value
        if layer is None:
            raise OptionError("choose a content Image layer")
        model = loaded.model
        style_layer = self.style.value if model.needs_style else None
        if model.needs_style and style_layer is None:
            raise OptionError(f"model {model.name!r} takes its style from an image: choose a style image layer")
        options = call_options(model, styles=loaded.styles, style_index=int(self.style_index.value),
                               mix=self.style_mix.value, alpha=float(self.alpha.value))
        data = layer_data(layer)
        lead = leading_axes(layer)
        source_hw = tuple(int(n) for n in np.shape(data)[lead : lead + 2])
        size = int(self.size.value) or None
        out_hw = output_hw(source_hw, size)
        stack = is_stack(layer)
        current = current_index(layer, self._viewer)
        wanted = tuple(plane_indices(layer)) if stack and planes == ALL_PLANES else (current,)
        style_index = current_index(style_layer, self._viewer) if style_layer is not None else None
        config = {
            "model_sha256": loaded.sha256, "options": options, "size": size or 0, "shape": list(out_hw),
            "style_layer": None if style_layer is None else style_layer.name,
            "style_plane": None if style_index is None else list(style_index),
        }
        content = lazy_levels(layer) if is_lazy(layer) else data
        levels = result_levels(out_hw, content)
        output = result_layer(self._viewer, layer, loaded, config, shape=tuple(np.shape(data)[:lead]) + out_hw,
                              source_hw=source_hw, index=current, levels=levels)
        done = planes_done(output)
        indices = tuple(i for i in wanted if i not in done)
        job = FastJob(
            model=model, content=content, content_limits=tuple(float(v) for v in layer.contrast_limits),
            indices=indices, out_hw=out_hw, size=size,
            style=None if style_layer is None else capture_plane(style_layer, style_index), options=options,
            levels=levels, targets=level_arrays(output), threads=run_settings().torch_threads,
        )
        return job, {"output": output, "wanted": wanted, "shown": current if stack else None, "layer": layer}

    def _start(self, job: FastJob, info: dict) -> GeneratorWorker:
        worker = create_worker(fast_job, job, _start_thread=False, _ignore_errors=True)
        run = _Run(job, info, worker)
        self._run = run
        self._queued = False
        self._sync_buttons()
        self.status.value = f"stylising {_planes_text(job.indices)}…"
        self.set_progress(0, len(job.indices))
        worker.yielded.connect(partial(self._on_plane, run))
        worker.returned.connect(partial(self._on_result, run))
        worker.errored.connect(partial(self._on_error, run))
        worker.finished.connect(partial(self._on_finished, run))
        worker.start()
        return worker

    def _on_plane(self, run: _Run, plane: FastPlane) -> None:
        if self._closed or run.ended:
            return
        run.pending.append(plane)
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        """Put the planes finished since the last flush into the result layer, with one repaint."""
        run = self._run
        if run is None or not run.pending or self._closed:
            return
        planes, run.pending = run.pending, []
        output = run.info["output"]
        if not any(layer.unique_id == output.unique_id for layer in self._viewer.layers):
            return  # the user deleted the result layer: the run goes on, shown nowhere
        run.done.extend(plane.index for plane in planes)
        output.refresh()  # the worker wrote the planes into the layer's arrays
        mark_done(output, run.done, state="running")
        latest = planes[-1]
        self.set_progress(latest.done, latest.total)
        where = f"plane {list(latest.index)} · " if latest.index else ""
        self.status.value = f"{where}{latest.done}/{latest.total} done · {latest.seconds:.2f} s a plane"

    def _on_result(self, run: _Run, result: FastResult) -> None:
        if self._closed:
            return
        self._flush()
        output = run.info["output"]
        state = "cancelled" if result.cancelled else "done"
        if any(layer.unique_id == output.unique_id for layer in self._viewer.layers):
            mark_done(output, run.done, state=state)
        what = _planes_text(result.planes) if result.planes else "no plane"
        self.status.value = f"{state}: {output.name}, {what} in {result.seconds:.1f} s"

    def _on_error(self, run: _Run, exc: BaseException) -> None:
        if self._closed:
            return
        self._flush()
        self._queued = False
        output = run.info["output"]
        if any(layer.unique_id == output.unique_id for layer in self._viewer.layers):
            if planes_done(output):
                mark_done(output, run.done, state=f"failed: {exc}")
            else:  # nothing to show: leave no empty layer behind
                self._viewer.layers.remove(output)
        self._fail(str(exc), exc)

    def _on_finished(self, run: _Run) -> None:
        run.ended = True
        if self._run is not run or self._closed:
            return
        self._run = None
        self.hide_progress()
        self._sync_buttons()
        if self._queued and not self._closed:
            self._queued = False
            self._on_dims()

    # Plumbing -------------------------------------------------------------------------------

    def _sync_buttons(self) -> None:
        self.apply_button.enabled = self._run is None
        self.cancel_button.enabled = self._run is not None and not self._run.job.cancel.is_set()

    def _fail(self, message: str, exc: BaseException | None = None) -> None:
        """An expected error: the engine's message in the status line and as a notification, no dialog."""
        details = ""
        if exc is not None:
            cause = exc.__cause__ or exc
            details = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
            if isinstance(cause, NstError):
                notify_error(message)
            else:
                notify_failure(exc)  # a bug: its traceback behind View Traceback
        else:
            notify_error(message)
        self.status.show_error(message, details=details)

    def _abandon(self, *_: Any) -> None:
        self._closed = True
        if self._run is not None:
            self._run.job.cancel.set()
        try:
            self._viewer.dims.events.current_step.disconnect(self._on_dims)
        except (RuntimeError, TypeError, ValueError):
            pass  # the viewer went first


@dataclass(eq=False)
class _Run:
    """One run: its job, what places the result, its worker and the planes not shown yet."""

    job: FastJob
    info: dict
    worker: GeneratorWorker
    pending: list[FastPlane] = field(default_factory=list)
    done: list[tuple[int, ...]] = field(default_factory=list)
    ended: bool = False


def _planes_text(planes: tuple[tuple[int, ...], ...]) -> str:
    if len(planes) == 1:
        return f"plane {list(planes[0])}" if planes[0] else "the image"
    return f"{len(planes)} planes"
