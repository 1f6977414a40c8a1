"""A panel's batch runs: layers to batch groups, the worker, the activity dock's bar, the results.

:class:`BatchRunner` runs :func:`napari_nst._batch_jobs.batch_job` in napari's generator
worker; the main thread only counts the finished jobs (in the panel's status line and
progress bar, and in a :class:`napari.utils.progress` bar in the activity dock, whose
description holds the done and failed counts) and at the end adds one layer per group with
:func:`add_result` (multiscale when the worker built its levels). The cluster's start takes
seconds, so the 0.28 s the activity dock's bar costs to create (the reason in-process runs do
without one) does not show here.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from napari.qt.threading import GeneratorWorker, create_worker
from napari.utils import progress

from nst_engine.errors import OptionError

from .._batch_jobs import (
    BatchGroup,
    BatchOutcome,
    BatchProgress,
    BatchRequest,
    GroupResult,
    batch_job,
)
from .._layers import (
    at_plane,
    current_index,
    layer_data,
    leading_axes,
    plane_indices,
    result_kwargs,
)
from .._lazy import is_lazy, lazy_levels, plane_note
from .._multiscale import levels_record
from ._common import SELECTED_LAYERS, notify_failure

__all__ = ["BatchRunner", "batch_groups", "add_result", "result_state", "contents", "finish_message", "show_results"]


def contents(picked: Any, viewer: Any, *, exclude: list[Any]) -> list[Any]:
    """The content layers of a run: ``picked``, or for :data:`SELECTED_LAYERS` every selected Image
    layer (in the layer list's order) but those in ``exclude`` (the style or reference)."""
    from napari.layers import Image

    if picked is not SELECTED_LAYERS:
        return [picked]
    # By id: napari hands plugins proxies of its layers, and two proxies of one layer differ.
    chosen = {layer.unique_id for layer in viewer.layers.selection}
    excluded = {layer.unique_id for layer in exclude}
    layers = [layer for layer in viewer.layers
              if isinstance(layer, Image) and layer.unique_id in chosen and layer.unique_id not in excluded]
    if not layers:
        raise OptionError("every selected layer: select one or more Image layers in the layer list "
                          "(ctrl- or shift-click), other than the style or reference")
    return layers


def batch_groups(layers: list[Any], viewer: Any, *, all_planes: bool) -> tuple[BatchGroup, ...]:
    """One group per layer: every plane of a stack with ``all_planes``, else its plane under the sliders."""
    groups = []
    for layer in layers:
        data, lead = layer_data(layer), leading_axes(layer)
        whole = all_planes and lead > 0 and int(np.prod(np.shape(data)[:lead])) > 1
        indices = tuple(plane_indices(layer)) if whole else (current_index(layer, viewer),)
        content = lazy_levels(layer) if is_lazy(layer) else data
        groups.append(BatchGroup(layer.name, content, tuple(float(v) for v in layer.contrast_limits), indices,
                                 tuple(np.shape(data)[:lead]) if whole else ()))
    return tuple(groups)


def result_state(outcome: BatchOutcome, result: GroupResult) -> str:
    """``done``, ``cancelled`` or ``failed: <plane>: <error>; ...`` for one group's layer."""
    failed = [p for p in result.failed if p["status"] in ("failed", "invalid")]
    if failed:
        return "failed: " + "; ".join(f"{result.group.label(tuple(p['index']))}: {p['error']}" for p in failed)
    return "cancelled" if outcome.cancelled and result.failed else "done"


def add_result(viewer: Any, layer: Any, outcome: BatchOutcome, result: GroupResult, *, name: str, rgb: bool,
               napari_info: dict) -> Any:
    """Add ``result`` as a layer over ``layer`` (a one-plane result at its plane); ``None`` if nothing was made."""
    if result.image is None:
        return None
    group = result.group
    plane = () if group.stack_shape else group.indices[0]
    multiscale = isinstance(result.image, list)
    levels = [at_plane(level, plane) for level in (result.image if multiscale else [result.image])]
    state = result_state(outcome, result)
    napari_info = {**napari_info, "state": state}
    if multiscale:
        napari_info["multiscale_levels"] = levels_record(levels, rgb=rgb)
    nst = {**result.provenance, "cancelled": outcome.cancelled, "batch": outcome.batch, "planes": result.planes,
           "napari": napari_info}
    if state != "done":
        name = f"{name} ({state.split(':')[0]})"
    lead = leading_axes(layer)
    kwargs = result_kwargs(layer, levels[0], name=name, metadata={"nst": nst},
                           source_hw=tuple(np.shape(layer_data(layer))[lead:lead + 2]),
                           leading=bool(group.stack_shape), rgb=rgb, plane=plane)
    return viewer.add_image(levels if multiscale else levels[0], multiscale=multiscale, **kwargs)


class BatchRunner:
    """One panel's batch: started with :meth:`start`, ``on_result(outcome)`` at its end, then
    ``on_ended()`` however it ended. :attr:`pbar` is the activity dock's bar while it runs."""

    def __init__(self, panel: Any, *, on_result: Callable[[BatchOutcome], None], on_ended: Callable[[], None]) -> None:
        self._panel = panel
        self._on_result = on_result
        self._on_ended = on_ended
        self.request: BatchRequest | None = None
        self.worker: GeneratorWorker | None = None
        self.pbar: progress | None = None
        self.abandoned = False

    @property
    def running(self) -> bool:
        """Whether a batch is in progress."""
        return self.worker is not None

    def start(self, request: BatchRequest, what: str) -> GeneratorWorker:
        """Run ``request`` in a worker thread; ``what`` names it in the status line and the dock."""
        # _on_error notifies; without _ignore_errors superqt would also re-raise in the main thread.
        worker = create_worker(batch_job, request, _start_thread=False, _ignore_errors=True)
        self.request, self.worker = request, worker
        self.pbar = progress(total=request.total, desc=f"{what}: starting a cluster")
        self._panel.status.value = f"{what}: {request.total} jobs, starting a local cluster…"
        self._panel.set_progress(0, request.total)
        worker.yielded.connect(partial(self._on_progress, what))
        worker.returned.connect(self._returned)
        worker.errored.connect(self._errored)
        worker.finished.connect(partial(self._finished, worker))
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the batch: pending jobs are cancelled, the planes made so far come back."""
        if self.request is not None and not self.request.cancel.is_set():
            self.request.cancel.set()
            self._panel.status.value = "cancelling…"

    def abandon(self) -> None:
        """The panel is gone: cancel, and let no handler touch its widgets again."""
        self.abandoned = True
        if self.request is not None:
            self.request.cancel.set()

    def _on_progress(self, what: str, news: BatchProgress) -> None:
        if self.pbar is not None:
            # The description first: the dock redraws the bar on update, with the description it has.
            self.pbar.set_description(f"{what}: {news.done} done, {news.failed} failed of {news.total}")
            if news.kind in ("done", "failed", "invalid"):
                self.pbar.update(1)
        if self.abandoned or self.request.cancel.is_set():
            return
        where = f"on {news.workers} worker{'s' * (news.workers != 1)}"
        self._panel.set_progress(news.done + news.failed, news.total)
        if news.kind == "started":
            self._panel.status.value = f"{what}: {news.total} jobs {where}…"
        elif news.kind in ("failed", "invalid"):
            self._panel.status.show_error(f"{news.label} failed: {news.error} (the other jobs go on)")
        elif news.kind == "retry":
            self._panel.status.value = f"{news.label}: {news.error}; trying again"
        elif not self._panel.status.is_error:
            self._panel.status.value = f"{what}: {news.done}/{news.total} done {where} (latest: {news.label})"

    def _returned(self, outcome: BatchOutcome) -> None:
        if not self.abandoned:
            self._on_result(outcome)

    def _errored(self, exc: BaseException) -> None:
        notify_failure(exc)
        if not self.abandoned:
            cause = exc.__cause__ or exc
            details = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
            self._panel.status.show_error(str(exc), details=details)

    def _finished(self, worker: GeneratorWorker) -> None:
        if self.pbar is not None:
            self.pbar.close()
        if self.worker is worker:
            self.worker = self.request = None
            if not self.abandoned:
                self._panel.hide_progress()
                self._on_ended()


def show_results(viewer: Any, status: Any, outcome: BatchOutcome, info: dict, *, what: str,
                 name: Callable[[Any], str], rgb: Callable[[Any], bool]) -> list[Any]:
    """Add each content layer's result and say in ``status`` how the batch went; returns the new layers.

    ``info`` has the content ``layers`` (one per group), the ``provenance`` they share, the
    ``role`` of a content layer (``content`` or ``source``) and the input scaling of the other
    input (``other_scaling``, keyed by its role).
    """
    role = info["role"]
    added = []
    for layer, result in zip(info["layers"], outcome.results, strict=True):
        group = result.group
        scaling = plane_note(layer, group.indices[0])
        napari_info = {
            **info["provenance"],
            f"{role}_layer": layer.name,
            f"{role}_planes": "all" if group.stack_shape else list(group.indices[0]),
            "input_scaling": {role: scaling, **info["other_scaling"]},
        }
        output = add_result(viewer, layer, outcome, result, name=name(layer), rgb=rgb(layer), napari_info=napari_info)
        if output is not None:
            added.append(output)
    text, error = finish_message(what, outcome, added)
    status.show(text, error=error)
    return added


def finish_message(what: str, outcome: BatchOutcome, added: list[Any]) -> tuple[str, bool]:
    """The status line after a batch, and whether it is an error: what was added, what failed and why."""
    planes = [(r.group, p) for r in outcome.results for p in r.planes]
    failed = [f"{group.label(tuple(p['index']))}: {p['error']}" for group, p in planes if p["status"] in ("failed", "invalid")]
    done = sum(p["status"] == "done" for _, p in planes)
    workers = outcome.batch.get("workers")
    where = f"{done} of {len(planes)} jobs on {workers} worker{'s' * (workers != 1)}"
    names = ", ".join(layer.name for layer in added) or "no layer"
    if failed:
        return f"{what}: {where}, added {names}; failed: " + "; ".join(failed), True
    state = "cancelled" if outcome.cancelled else "done"
    return f"{state}: {names} ({where})", False
