"""Where a batch runs: an existing Dask scheduler, or a local cluster sized to this machine.

The local cluster has worker processes (not threads: torch and numpy hold the GIL in
places, and a crashed process takes only its own jobs). ``workers × threads per worker ×
torch threads per job`` never exceeds the cores, and each worker's memory limit comes from
the engine's own estimate of a job's peak (:mod:`nst_engine.memory`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Sequence

from .jobs import Job

__all__ = ["Sizing", "size_local_cluster", "estimate_job_bytes", "connect", "dashboard_link", "SCHEDULER_VARIABLE"]

_log = logging.getLogger(__name__)

#: The environment variable naming a scheduler, as Dask's own tools read it.
SCHEDULER_VARIABLE = "DASK_SCHEDULER_ADDRESS"
#: A worker process's own memory before it runs a job: the interpreter, torch and the plugins take ~750 MB.
_WORKER_BASE = 3 * 2**29
_GIB = 2**30
#: A feed-forward model's peak per output pixel: johnson 1.0-1.2 KB at 512²-1024² and adain
#: 0.85 KB (its style at the same size), measured as the resident high-water mark, fp32 CPU.
_APPLY_BYTES_PER_PIXEL = 1280


@dataclass(frozen=True)
class Sizing:
    """A local cluster's shape: ``workers`` processes of ``threads`` Dask threads each, torch
    threads per job, and the memory limit per worker in bytes."""

    workers: int
    threads: int
    torch_threads: int
    memory_limit: int


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _available() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def size_local_cluster(*, job_bytes: int, workers: int | None = None, threads: int | None = None,
                       cores: int | None = None, available: int | None = None) -> Sizing:
    """Workers and threads for this machine: by default one single-threaded worker per core,
    fewer when ``available`` memory cannot hold each worker's ``job_bytes`` peak.

    Each worker's limit is its base memory plus ``threads`` jobs' peaks with 50 % headroom
    (Dask restarts a worker that passes 95 % of it, and reruns its jobs).
    """
    cores = cores or _cores()
    available = available if available is not None else _available()
    threads = threads or 1
    limit = int(_WORKER_BASE + threads * 1.5 * job_bytes)
    if workers is None:
        workers = max(1, min(cores // threads, int(0.9 * available // limit)))
    torch_threads = max(1, cores // (workers * threads))
    return Sizing(workers, threads, torch_threads, limit)


def estimate_job_bytes(jobs: Sequence[Job]) -> int:
    """The peak memory of the batch's first job, by the engine's estimate (1 GiB if none).

    A style transfer is planned (``plan_run``: shapes only, nothing optimised); a color
    transfer is taken as a dozen float copies of the content, a model's application as its
    measured peak per output pixel.
    """
    job = next((j for j in jobs if j.error is None), None)
    if job is None:
        return _GIB
    try:
        from .tasks import read_content

        content = read_content(job)
        if job.task == "color":
            return int(content.shape[0] * content.shape[1] * 3 * 4 * 12)
        if job.task == "apply":
            from ..schedule import max_side_shape

            rows, cols = max_side_shape(content.shape, job.options.get("size"))
            return int(rows * cols * _APPLY_BYTES_PER_PIXEL)
        from ..files import read_image
        from ..plan import plan_run

        options = {k: v for k, v in job.options.items() if k not in ("threads",)}
        plan = plan_run(content, [read_image(p) for p in job.styles], check_memory=False, **options)
        return int(plan.memory.peak_bytes)
    except Exception as exc:  # the job itself will say what is wrong with it
        _log.debug("no memory estimate for %s: %s", job.label, exc)
        return _GIB


def connect(*, scheduler: str | None = None, workers: int | None = None, threads: int | None = None,
            jobs: Sequence[Job] = ()) -> tuple[Any, Any, int | None]:
    """A ``distributed.Client``: to ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``), else to a new
    local cluster sized by :func:`size_local_cluster`.

    Returns the client, the cluster it owns (``None`` for an existing scheduler) and the
    torch threads per job (``None``: each worker shares its cores among its threads).
    """
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get(SCHEDULER_VARIABLE)
    if address:
        client = Client(address, timeout=30)
        client.wait_for_workers(1, timeout=60)
        return client, None, None
    sizing = size_local_cluster(job_bytes=estimate_job_bytes(jobs), workers=workers, threads=threads)
    # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which turns off glibc's adaptive mmap
    # threshold: every image-sized array is then a fresh mmap faulted in page by page (a 1024²
    # histogram transfer took 0.82 s instead of 0.70 s). The memory limit has headroom instead.
    # Any free port: the scheduler's web server runs with or without the dashboard (bokeh).
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = LocalCluster(n_workers=sizing.workers, threads_per_worker=sizing.threads, processes=True,
                               memory_limit=sizing.memory_limit, dashboard_address=":0",
                               # A failed job is one line of the batch's own; a worker's ERROR log
                               # repeats it with a traceback (shown with nst --debug).
                               silence_logs=logging.DEBUG if _log.isEnabledFor(logging.DEBUG) else logging.CRITICAL)
    try:
        return Client(cluster), cluster, sizing.torch_threads
    except BaseException:
        cluster.close()
        raise


def _has_dashboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard's address, when the scheduler serves one (it needs bokeh there)."""
    try:
        return client.dashboard_link if client.run_on_scheduler(_has_dashboard) else None
    except Exception:  # a scheduler that refuses run_on_scheduler: no link rather than no batch
        return None
