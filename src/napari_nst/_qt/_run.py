"""The state of one style transfer run on the Qt side: its result layer, timer and pending step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from napari.qt.threading import GeneratorWorker

from .._workers import PlaneEvent, StyleJob

__all__ = ["RunState"]


@dataclass(eq=False)
class RunState:
    """One run's state, bound to its worker's signal handlers."""

    job: StyleJob
    worker: GeneratorWorker
    info: dict
    output: Any = None
    timer: Any = None
    shown: PlaneEvent | None = None  # the newest step shown (None: no step has completed)
    pending: PlaneEvent | None = None
    pending_preview: PlaneEvent | None = None
    previewed: tuple[int, ...] | None = None  # the plane of the newest preview shown (a stack's run)
    done: bool = False
