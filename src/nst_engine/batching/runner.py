"""Run a batch of jobs on Dask distributed, resumably, and report each job as it ends.

:func:`batch` is a generator, like :func:`~nst_engine.pipeline.iter_stylize`: it yields a
:class:`BatchEvent` per job (skipped, done, retried, failed) and returns a
:class:`BatchResult`; :func:`run_batch` drains it. Closing it (or Ctrl-C) cancels the
futures still pending; finished outputs stay, and the summary is written either way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator, Iterable, Iterator

from ..errors import ImageError, OptionError
from .jobs import Job, check_jobs, job_hash
from .summary import job_record, write_summary

if TYPE_CHECKING:  # not at run time: the client of a color batch never imports torch
    from ..cancellation import CancelRequest

__all__ = ["BatchEvent", "BatchResult", "DEFAULT_RETRIES", "batch", "run_batch", "is_finished"]

_log = logging.getLogger(__name__)

#: Retries of a failing job after its first attempt; a worker's death is not counted (Dask
#: reruns the job elsewhere up to its ``distributed.scheduler.allowed-failures``).
DEFAULT_RETRIES = 2
#: Errors about the job's own inputs or options: another attempt would fail the same way.
_FINAL = (OptionError, ImageError)


@dataclass(frozen=True)
class BatchEvent:
    """One job's news: ``kind`` is ``started`` (the cluster is up; ``dashboard`` may be set),
    ``skipped``, ``done``, ``retry``, ``failed`` or ``invalid``; counts so far."""

    kind: str
    record: dict[str, Any] | None
    done: int
    failed: int
    running: int
    total: int
    dashboard: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """Every job's record (the summary's rows) and where the summary was written."""

    records: list[dict[str, Any]]
    summary: tuple[Path, Path] | None


def is_finished(job: Job, digest: str) -> bool:
    """Whether ``job``'s output exists and its sidecar records the hash ``digest``."""
    from ..files import read_provenance

    if not Path(job.output).is_file():
        return False
    try:
        provenance = read_provenance(job.output) or {}
    except (OSError, ValueError):
        return False
    return (provenance.get("batch") or {}).get("job_hash") == digest


def _sweep(jobs: Iterable[Job]) -> None:
    """Remove temporaries a killed writer of these outputs left (``.NAME.*``)."""
    for job in jobs:
        output = Path(job.output)
        if output.parent.is_dir():
            for stale in output.parent.glob(f".{output.name}.*"):
                stale.unlink(missing_ok=True)


def batch(jobs: Iterable[Job], *, output_dir: str | Path | None = None, scheduler: str | None = None,
          workers: int | None = None, threads_per_worker: int | None = None, retries: int = DEFAULT_RETRIES,
          resume: bool = True, evaluate: bool = False, return_images: bool = False,
          client: Any = None, cancel: CancelRequest | None = None) -> Generator[BatchEvent, None, BatchResult]:
    """Run ``jobs`` on a Dask cluster, yielding a :class:`BatchEvent` as each job ends.

    Parameters
    ----------
    jobs
        :class:`~nst_engine.batching.jobs.Job` s (``cross_jobs``, or the CLI's manifest rows).
    output_dir
        Where ``summary.csv`` and ``summary.json`` go (``None``: no summary).
    scheduler, workers, threads_per_worker, client
        An existing scheduler's address (else ``$DASK_SCHEDULER_ADDRESS``), else a local
        cluster of ``workers`` processes with ``threads_per_worker`` threads, sized to the
        machine by default (:mod:`nst_engine.batching.cluster`); or a ``distributed.Client``.
    retries
        Further attempts of a job that raised; then it is recorded as failed and the batch goes
        on. Input and option errors are not retried.
    resume
        Skip jobs whose output exists with this job's hash in its sidecar.
    evaluate, return_images
        Add ``nst evaluate``'s metrics to each record; return each image in its record.
    cancel
        A ``threading.Event`` another thread may set (a UI's Cancel): the pending jobs are
        cancelled at once and the batch returns, the unfinished jobs recorded as cancelled.
    """
    jobs = check_jobs(jobs)
    total = len(jobs)
    records: dict[int, dict[str, Any]] = {}
    counts = {"done": 0, "failed": 0}

    def event(kind: str, index: int | None, running: int = 0, **extra: Any) -> BatchEvent:
        return BatchEvent(kind, records.get(index) if index is not None else None, counts["done"], counts["failed"],
                          running, total, **extra)

    digests: dict[int, str] = {}
    for i, job in enumerate(jobs):
        if job.error is not None:
            records[i] = job_record(job, "invalid", error=job.error)
            counts["failed"] += 1
            yield event("invalid", i)
            continue
        digests[i] = job_hash(job)
        if resume and is_finished(job, digests[i]):
            records[i] = job_record(job, "skipped")
            counts["done"] += 1
            yield event("skipped", i)
    todo = [i for i in digests if i not in records]
    owned = cluster = None
    pending: dict[Any, int] = {}
    try:
        if todo:
            _sweep(jobs[i] for i in todo)
            if client is None:
                from .cluster import connect

                client, cluster, threads = connect(scheduler=scheduler, workers=workers, threads=threads_per_worker,
                                                   jobs=[jobs[i] for i in todo])
                owned = client
            else:
                threads = None
            with _cancelling(client, pending, cancel):
                yield from _run(client, jobs, todo, digests, records, counts, pending, event, threads=threads,
                                retries=retries, evaluate=evaluate, return_images=return_images, cancel=cancel)
    finally:
        if pending and client is not None:
            with contextlib.suppress(Exception):  # a scheduler already gone has nothing to cancel
                client.cancel(list(pending))
        for i, job in enumerate(jobs):
            records.setdefault(i, job_record(job, "cancelled"))
        ordered = [records[i] for i in range(total)]
        # Written before the cluster closes, which takes seconds and may fail on its own.
        summary = write_summary(output_dir, ordered) if output_dir is not None else None
        if owned is not None:
            owned.close()
        if cluster is not None:  # its workers are gone: nothing is writing these outputs now
            cluster.close()
            _sweep(jobs[i] for i in todo)
    return BatchResult(ordered, summary)


@contextlib.contextmanager
def _cancelling(client: Any, pending: dict, cancel: CancelRequest | None) -> Iterator[None]:
    """While inside, cancel the pending futures as soon as ``cancel`` is set (from a thread of
    its own: the batch's thread is blocked waiting for the next job to end)."""
    if cancel is None:
        yield
        return
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(0.1):
            if cancel.is_set():  # again until the batch ends: a retry may be submitted meanwhile
                with contextlib.suppress(RuntimeError):  # ``pending`` changed while being copied
                    client.cancel(list(pending), force=True)

    watcher = threading.Thread(target=watch, name="nst-batch-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()


def _run(client, jobs, todo, digests, records, counts, pending, event, *, threads, retries, evaluate, return_images,
         cancel):
    from distributed import as_completed

    from .cluster import dashboard_link
    from .plugins_check import check_workers
    from .tasks import run_job, warm_up

    check_workers(client, [jobs[i] for i in todo])
    client.run(warm_up, sorted({jobs[i].task for i in todo}))
    slots = max(1, sum(client.nthreads().values()))
    yield event("started", None, dashboard=dashboard_link(client))
    attempts = dict.fromkeys(todo, 0)

    def submit(i: int):
        attempts[i] += 1
        future = client.submit(run_job, jobs[i], digests[i], threads=threads, evaluate=evaluate,
                               return_image=return_images, key=f"nst-{jobs[i].task}-{i}-{attempts[i]}-{digests[i][:8]}",
                               pure=False, retries=0)
        pending[future] = i
        return future

    queue = as_completed([submit(i) for i in todo])
    for future in queue:
        if cancel is not None and cancel.is_set():
            return
        i = pending.pop(future)
        job = jobs[i]
        if future.status == "finished":
            result = future.result()
            records[i] = job_record(job, "done", attempts=attempts[i], **result)
            counts["done"] += 1
            yield event("done", i, min(len(pending), slots))
            continue
        error = future.exception()
        message = f"{type(error).__name__}: {error}"
        if attempts[i] <= retries and not isinstance(error, _FINAL):
            _log.info("%s failed (%s), retrying", job.label, message)
            records[i] = job_record(job, "retry", attempts=attempts[i], error=message)
            queue.add(submit(i))
            news = event("retry", i, min(len(pending), slots))
            del records[i]
            yield news
            continue
        records[i] = job_record(job, "failed", attempts=attempts[i], error=message)
        counts["failed"] += 1
        yield event("failed", i, min(len(pending), slots))


def run_batch(jobs: Iterable[Job], **options: Any) -> BatchResult:
    """Run :func:`batch` to the end and return its :class:`BatchResult` (``batch``'s options)."""
    events = batch(jobs, **options)
    while True:
        try:
            next(events)
        except StopIteration as done:
            return done.value
