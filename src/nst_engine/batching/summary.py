"""``summary.csv`` and ``summary.json``: one row per job, written atomically after a batch."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..files import atomic_write
from .jobs import Job

__all__ = ["COLUMNS", "job_record", "write_summary"]

#: The columns every row has; ``--evaluate`` appends the metrics (``kl_*``, ``ssim``, ``gram_distance``).
COLUMNS = ("job", "task", "content", "style", "plane", "status", "output", "attempts", "seconds",
           "peak_memory_mb", "worker", "error")


def job_record(job: Job, status: str, **values: Any) -> dict[str, Any]:
    """A summary row for ``job``: ``done``, ``skipped`` (finished before), ``failed`` or ``invalid``."""
    record = {"job": job.label, "task": job.task, "content": job.content, "style": ";".join(job.styles),
              "plane": job.plane, "status": status, "output": job.output, "attempts": 0, "seconds": None,
              "peak_memory_mb": None, "worker": None, "error": None}
    record.update(values)
    return record


def write_summary(directory: str | Path, records: Sequence[Mapping[str, Any]]) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.json`` into ``directory``; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    metric_names: list[str] = []
    for record in records:
        row = {k: record.get(k) for k in COLUMNS}
        for name, value in (record.get("metrics") or {}).items():
            row[name] = value
            if name not in metric_names:
                metric_names.append(name)
        rows.append(row)
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=[*COLUMNS, *metric_names], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    paths = directory / "summary.csv", directory / "summary.json"
    atomic_write(paths[0], lambda tmp: tmp.write_text(stream.getvalue()))
    atomic_write(paths[1], lambda tmp: tmp.write_text(json.dumps(rows, indent=2, default=str)))
    return paths
