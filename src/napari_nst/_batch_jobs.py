"""Planes and layers through the engine's batch API: no Qt, no layers, only captured arrays.

``All planes`` without a warm start and ``every selected layer`` are independent images: they
run as a batch (:func:`nst_engine.batching.runner.batch`) on a local Dask cluster of worker
processes, in parallel. The batch API is path-based, so :func:`batch_job` first writes each
content plane, as the engine should see it (:func:`~napari_nst._layers.to_unit`, lossless
TIFF; a lazy layer's plane read at the run's size, :mod:`napari_nst._lazy`), and each style into a private temporary folder, makes one
:class:`~nst_engine.batching.jobs.Job` per plane with its output there, yields a
:class:`BatchProgress` per finished job, and returns a :class:`BatchOutcome` with the images
put back in their stacks (a large one, or one of a multiscale content, with its pyramid for a
multiscale layer, :mod:`napari_nst._multiscale`). The folder is removed at the end, also after
a cancel or a failure.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from nst_engine.batching.jobs import Job

from ._layers import output_hw, put_plane, to_unit
from ._lazy import LazyPlane, read_plane, read_style, style_side
from ._multiscale import multiscale_of
from ._workers import RunFailed, failure_message

__all__ = ["BatchGroup", "BatchRequest", "BatchProgress", "GroupResult", "BatchOutcome", "batch_job", "write_image"]

#: Options of an in-process run that a batch job cannot take: workers never preview, and the
#: cluster gives each job its share of the cores.
_IN_PROCESS_ONLY = ("preview_every", "threads", "cancel", "init_image")


@dataclass(frozen=True)
class BatchGroup:
    """The planes of one result: ``indices`` of ``content`` (a layer's data, not copied).

    ``stack_shape`` is the content's leading shape when the result keeps every plane, else
    ``()``: the result is then the one plane ``indices[0]``.
    """

    name: str
    content: Any = field(repr=False)
    limits: tuple[float, float]
    indices: tuple[tuple[int, ...], ...]
    stack_shape: tuple[int, ...] = ()

    def label(self, index: tuple[int, ...]) -> str:
        """How messages name one of its planes."""
        return f"{self.name} plane {list(index)}" if self.stack_shape else self.name


@dataclass(frozen=True)
class BatchRequest:
    """What to run: ``task`` (``"stylize"`` or ``"color"``) on every group's planes with ``styles``.

    ``options`` are the job's engine options (``iter_stylize``'s, or ``{"method", "options"}``
    for color). ``workers`` and ``threads_per_worker`` size the local cluster (``None``: to the
    machine, never more workers than jobs). Set ``cancel`` to stop: no job starts after it.
    """

    task: str
    groups: tuple[BatchGroup, ...]
    styles: tuple[np.ndarray | LazyPlane, ...] = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None
    threads_per_worker: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def total(self) -> int:
        """How many jobs: one per plane of every group."""
        return sum(len(group.indices) for group in self.groups)


@dataclass(frozen=True)
class BatchProgress:
    """News of the batch: ``kind`` is ``started`` (the cluster is up) or a job's ``done``,
    ``failed``, ``invalid`` (it could not be submitted) or ``retry``; ``label`` names that job's plane or layer, ``error`` says why."""

    kind: str
    done: int
    failed: int
    total: int
    label: str | None = None
    error: str | None = None
    workers: int | None = None
    dashboard: str | None = None


@dataclass(frozen=True)
class GroupResult:
    """One group's image (its stack, planes not made are 0; ``None`` if no plane was made; a
    list of levels, full resolution first, for a multiscale layer), a record per plane (index,
    status, seconds, worker, error, steps) and the engine's provenance of its first finished
    plane (``{}`` if none)."""

    group: BatchGroup
    image: np.ndarray | list[np.ndarray] | None = field(repr=False)
    planes: list[dict[str, Any]]
    provenance: dict[str, Any]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The records of its planes that did not finish."""
        return [p for p in self.planes if p["status"] != "done"]


@dataclass(frozen=True)
class BatchOutcome:
    """Every group's result, whether the batch was cancelled, and where it ran."""

    results: list[GroupResult]
    cancelled: bool
    batch: dict[str, Any]


def write_image(path: Path, image: np.ndarray) -> str:
    """Write ``image`` as a TIFF that :func:`nst_engine.files.read_image` reads back unchanged."""
    image = np.asarray(image)
    if image.dtype == bool or image.dtype == np.float64:
        image = image.astype(np.float32)
    tifffile.imwrite(path, image, photometric="rgb" if image.ndim == 3 and image.shape[-1] in (3, 4) else "minisblack")
    return str(path)


def _style_side(request: BatchRequest) -> int | None:
    """The longest side a lazy style is read at: the largest run's (None, a color batch: full size)."""
    size = request.options.get("size")
    if request.task != "stylize" or size is None:
        return None
    style_scale = float(request.options.get("style_scale", 1.0))
    sides = []
    for group in request.groups:
        lead = len(group.indices[0])
        sides.append(style_side(output_hw(tuple(np.shape(group.content)[lead:lead + 2]), size), style_scale))
    return max(sides)


def _make_jobs(request: BatchRequest, folder: Path) -> list[tuple[int, tuple[int, ...], Job]]:
    side = _style_side(request)
    styles = tuple(write_image(folder / f"style_{k}.tif", read_style(s, side=side)[0])
                   for k, s in enumerate(request.styles))
    options = {k: v for k, v in request.options.items() if k not in _IN_PROCESS_ONLY}
    size = options.get("size") if request.task == "stylize" else None
    jobs = []
    for g, group in enumerate(request.groups):
        for p, index in enumerate(group.indices):
            plane = to_unit(read_plane(group.content, index, size=size)[0], group.limits)
            content = write_image(folder / f"content_{g}_{p}.tif", plane)
            job = Job(request.task, content, styles, str(folder / f"result_{g}_{p}.tif"), dict(options))
            jobs.append((g, index, job))
    return jobs


def _connect(request: BatchRequest, jobs: list[Job]) -> tuple[Any, Any, int | None]:
    """A client of a local cluster with at most one worker per job (or ``$DASK_SCHEDULER_ADDRESS``'s)."""
    from nst_engine.batching.cluster import (
        connect,
        estimate_job_bytes,
        size_local_cluster,
    )

    workers = request.workers
    if workers is None:
        workers = min(len(jobs), size_local_cluster(job_bytes=estimate_job_bytes(jobs)).workers)
    return connect(workers=workers, threads=request.threads_per_worker, jobs=jobs)


def batch_job(request: BatchRequest) -> Generator[BatchProgress, Any, BatchOutcome]:
    """Run ``request`` as a batch; failures of the whole batch become :class:`RunFailed`.

    A job that fails is reported (``failed``) and the others go on. Cancelling (``request.cancel``)
    stops the batch at once: the pending jobs are cancelled, the cluster is closed, and the
    planes made so far are returned.
    """
    what = "Style transfer" if request.task == "stylize" else "Color transfer"
    folder = Path(tempfile.mkdtemp(prefix="napari-nst-batch-"))
    client = cluster = None
    try:
        placed = _make_jobs(request, folder)
        jobs = [job for _, _, job in placed]
        client, cluster, torch_threads = _connect(request, jobs)
        if torch_threads is not None and request.task == "stylize":
            jobs = [Job(j.task, j.content, j.styles, j.output, {**j.options, "threads": torch_threads}) for j in jobs]
        workers = len(client.nthreads())
        info = {"api": "nst_engine.batching", "workers": workers, "threads_per_worker": max(client.nthreads().values()),
                "scheduler": "local" if cluster is not None else client.scheduler.address}
        records = yield from _drive(request, jobs, placed, client, workers)
        return _outcome(request, placed, records, info)
    except Exception as exc:
        raise RunFailed(failure_message(what, exc)) from exc
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
        shutil.rmtree(folder, ignore_errors=True)


def _drive(request: BatchRequest, jobs: list[Job], placed: list, client: Any,
           workers: int) -> Generator[BatchProgress, Any, dict[str, dict]]:
    """Yield the batch's news until it ends or is cancelled; returns each job's record by output."""
    from nst_engine.batching.runner import batch

    where = {job.output: (g, index) for (g, index, _), job in zip(placed, jobs, strict=True)}
    records: dict[str, dict] = {}
    events = batch(jobs, client=client, return_images=True, resume=False, cancel=request.cancel)
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as end:
                return {record["output"]: record for record in end.value.records}
            if request.cancel.is_set():
                return records
            label = error = None
            if event.record is not None:
                if event.kind in ("done", "failed", "invalid"):
                    records[event.record["output"]] = event.record
                g, index = where[event.record["output"]]
                label, error = request.groups[g].label(index), event.record.get("error")
            yield BatchProgress(event.kind, event.done, event.failed, event.total, label, error, workers,
                                event.dashboard)
    finally:
        events.close()  # cancels the futures still pending


def _outcome(request: BatchRequest, placed: list, records: dict[str, dict], info: dict) -> BatchOutcome:
    from nst_engine.files import read_provenance

    results = []
    for g, group in enumerate(request.groups):
        image = None
        planes: list[dict[str, Any]] = []
        provenance: dict[str, Any] = {}
        for k, index, job in ((k, index, job) for k, index, job in placed if k == g):
            record = records.get(job.output) or {"status": "cancelled"}
            plane = {"index": list(index), "status": record["status"], "seconds": record.get("seconds"),
                     "worker": record.get("worker"), "attempts": record.get("attempts"), "error": record.get("error")}
            found = record.get("image")
            if record["status"] == "done" and found is not None:
                engine = dict(read_provenance(job.output) or {})
                for key in ("content", "style", "source", "reference", "batch"):  # the temporary files' names
                    engine.pop(key, None)
                plane["steps_run"] = engine.get("steps_run")
                provenance = provenance or engine
                image = put_plane(image, group.stack_shape, index, found)
            planes.append(plane)
        if image is not None:
            image = multiscale_of(image, group.content, lead=len(group.stack_shape)) or image
        results.append(GroupResult(group, image, planes, provenance))
    return BatchOutcome(results, request.cancel.is_set(), info)
