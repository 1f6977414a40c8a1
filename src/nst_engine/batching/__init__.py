"""Batches of style and color transfers on Dask distributed: one machine or a cluster.

``jobs`` (what to run, output names, the resume hash), ``tasks`` (what a worker runs),
``cluster`` (local sizing or an existing scheduler), ``plugins_check`` (workers' plugins),
``runner`` (submit, retry, resume, cancel: :func:`batch` and :func:`run_batch`) and
``summary`` (summary.csv / summary.json). See docs/batch.md.
"""

from .jobs import Job, apply_jobs, cross_jobs, read_manifest
from .runner import BatchEvent, BatchResult, batch, run_batch

__all__ = ["Job", "apply_jobs", "cross_jobs", "read_manifest", "BatchEvent", "BatchResult", "batch", "run_batch"]
