"""What runs on a worker: read the job's files, run it, write the output atomically, report.

The worker reads the inputs itself (only paths travel) and returns a small record, not the
image, unless asked. The output is written by :func:`nst_engine.files.write_image`: image and
sidecar appear together or not at all, so a worker killed mid-job leaves no partial file.
"""

from __future__ import annotations

import functools
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from .jobs import Job

__all__ = ["run_job", "read_content", "worker_name", "warm_up"]

_STATUS = "/proc/self/status"


def _worker():
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def worker_name() -> str:
    """The Dask worker's address, or ``local`` outside a worker."""
    worker = _worker()
    return worker.address if worker is not None else "local"


def _share_of_cores() -> int | None:
    """A worker's cores divided by the jobs it runs at once (``None`` outside a worker: torch's)."""
    worker = _worker()
    if worker is None:
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(getattr(worker, "nthreads", 1) or 1)))


def _reset_peak() -> None:
    """Reset the process's resident-memory high-water mark (Linux ``clear_refs``), if allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as stream:
            stream.write("5")
    except OSError:
        pass


def _peak_bytes() -> int:
    """The process's peak resident memory since :func:`_reset_peak` (else since it started)."""
    try:
        with open(_STATUS) as stream:
            for line in stream:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def warm_up(tasks: list[str]) -> None:
    """Import what ``tasks`` run (torch, scipy, scikit-image: seconds), on every worker at once
    before the first job, instead of inside each worker's first job."""
    from .. import evaluation, files, images, transfers  # noqa: F401

    if "stylize" in tasks:
        from .. import pipeline  # noqa: F401
    if "apply" in tasks:
        from ..backbones import weights  # noqa: F401 - load_model reads through it (torchvision: seconds)
        from ..models import applying  # noqa: F401


def read_content(job: Job) -> np.ndarray:
    """The job's content image: the file, or its plane ``job.plane`` read alone from the stack."""
    from ..files import read_image

    if job.plane is None:
        return read_image(job.content)
    import tifffile

    from ..errors import ImageError

    with tifffile.TiffFile(job.content) as tif:
        if not 0 <= job.plane < len(tif.pages):
            raise ImageError(f"{job.content} has {len(tif.pages)} planes, not a plane {job.plane}")
        return tif.pages[job.plane].asarray()


def _stylize(job: Job, content: np.ndarray, threads: int | None) -> tuple[np.ndarray, dict]:
    from ..files import read_image
    from ..pipeline import stylize

    options = dict(job.options)
    if options.get("threads") is None:
        options["threads"] = threads or _share_of_cores()
    styles = [read_image(p) for p in job.styles]
    result = stylize(content, styles, preview_every=0, **options)
    return result.image, dict(result.provenance, content=job.content, style=list(job.styles))


def _color(job: Job, content: np.ndarray) -> tuple[np.ndarray, dict]:
    from ..files import read_image
    from ..images import to_unit_float
    from ..transfers import bind_color_transfer

    method = job.options.get("method", "histogram")
    transfer = bind_color_transfer(method, **dict(job.options.get("options", {})))
    started = time.perf_counter()
    result = transfer(content, read_image(job.styles[0]))
    provenance = transfer.provenance(seconds=time.perf_counter() - started, source=job.content,
                                     reference=job.styles[0])
    return to_unit_float(result), provenance


@functools.lru_cache(maxsize=2)
def _model(path: str, sha256: str, encoder: str | None, encoder_sha256: str | None) -> Any:
    """The job's model, loaded once per worker (checked against the client's SHA-256s), not once per job."""
    from ..models.loading import load_model

    return load_model(path, sha256=sha256, encoder=encoder, encoder_sha256=encoder_sha256)


def _apply(job: Job, content: np.ndarray, threads: int | None) -> tuple[np.ndarray, dict]:
    from ..files import read_image
    from ..models.applying import ModelRun

    options = dict(job.options)
    path, sha256 = options.pop("model"), options.pop("model_sha256")
    encoder, encoder_sha256 = options.pop("encoder", None), options.pop("encoder_sha256", None)
    options.pop("model_name", None)
    if options.get("threads") is None:
        options["threads"] = threads or _share_of_cores()
    style = read_image(job.styles[0]) if job.styles else None
    started = time.perf_counter()
    run = ModelRun(_model(path, sha256, encoder, encoder_sha256), style=style, **options)
    image = run([content])[0]
    provenance = dict(run.describe(), content=job.content, style=job.styles[0] if job.styles else None,
                      model_file=Path(path).name, model_sha256=sha256, options=job.options,
                      content_shape=list(content.shape), output_shape=list(image.shape),
                      seconds=round(time.perf_counter() - started, 4))
    return image, provenance


def _metrics(job: Job, content: np.ndarray, image: np.ndarray) -> dict[str, Any]:
    from ..evaluation import evaluate
    from ..files import read_image
    from ..images import resize_to, to_unit_float

    original = resize_to(to_unit_float(content)[..., :3], image.shape[:2])
    style = None
    options: dict[str, Any] = {}
    if job.task == "stylize":
        style = read_image(job.styles[0])
        options = {"backbone": job.options.get("backbone", "vgg19"),
                   "backbone_options": job.options.get("backbone_options") or None}
    found = evaluate(original, image[..., :3], style=style, **options)
    metrics = {f"kl_{channel}": value for channel, value in found["kl"].items()}
    metrics["ssim"] = found["ssim"]
    if "gram_distance" in found:
        metrics["gram_distance"] = found["gram_distance"]
    return metrics


def run_job(job: Job, job_hash: str, *, threads: int | None = None, evaluate: bool = False,
            return_image: bool = False) -> dict[str, Any]:
    """Run ``job`` here and write its output with ``job_hash`` in the provenance.

    ``threads`` are torch's for a style transfer whose options leave them unset (default: the
    worker's cores divided by its Dask threads). Returns the
    job's record: output, seconds, peak memory (the worker process's, during the job),
    worker, and with ``evaluate`` the metrics of ``nst evaluate``. Raises what the job raised.
    """
    from ..files import write_image

    started = time.perf_counter()
    _reset_peak()
    content = read_content(job)
    if job.task == "stylize":
        image, provenance = _stylize(job, content, threads)
    elif job.task == "apply":
        image, provenance = _apply(job, content, threads)
    else:
        image, provenance = _color(job, content)
    provenance["batch"] = {"job_hash": job_hash, "plane": job.plane, "row": job.row}
    Path(job.output).parent.mkdir(parents=True, exist_ok=True)
    write_image(job.output, image, provenance=provenance)
    record: dict[str, Any] = {"output": job.output, "worker": worker_name(), "pid": os.getpid()}
    if evaluate:
        record["metrics"] = _metrics(job, content, image)
    record["seconds"] = round(time.perf_counter() - started, 4)
    record["peak_memory_mb"] = round(_peak_bytes() / 2**20, 1)
    if return_image:
        record["image"] = image
    return record
