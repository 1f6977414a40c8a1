"""The state of one style transfer run on the Qt side: its timers, progress bars and pending step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from napari.qt.threading import GeneratorWorker
from napari.utils import cancelable_progress, progress

from .._workers import PlaneEvent, StyleJob

__all__ = ["RunState", "progress_bars", "set_progress"]


@dataclass(eq=False)
class RunState:
    """One run's state, bound to its worker's signal handlers (which may run nested)."""

    job: StyleJob
    worker: GeneratorWorker
    info: dict
    output: Any = None
    timer: Any = None
    progress_timer: Any = None
    shown: PlaneEvent | None = None
    bars: list = field(default_factory=list)
    pending: PlaneEvent | None = None
    pending_preview: PlaneEvent | None = None
    busy: bool = False
    done: bool = False
    finished: bool = False


def progress_bars(job: StyleJob, cancel: Any) -> list[progress]:
    """Activity-dock bars: steps; for a stack, planes (outer) and the current plane's steps (inner).

    The two levels are separate bars rather than ``nest_under``: with napari 0.9.2, deleting a
    nested bar group crashed the process (segfault in
    ``QtActivityDialog.maybe_hide_progress_indicator``).
    """
    steps = int(job.options["steps"])
    if not job.is_stack:
        return [cancelable_progress(total=steps, desc="Style transfer", cancel_callback=cancel)]
    outer = cancelable_progress(total=len(job.indices), desc="Style transfer: planes", cancel_callback=cancel)
    return [outer, progress(total=steps, desc=f"plane 1/{len(job.indices)}: steps")]


def set_progress(bar: progress, value: int) -> None:
    """Move ``bar`` to ``value`` (napari's bars only take increments)."""
    if value != bar.n:
        bar.update(value - bar.n)
