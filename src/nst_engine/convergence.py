"""When a scale has stopped paying: the relative fall of its loss over a window of steps.

L-BFGS on a style loss falls fast, then creeps: the last third of a fixed budget often buys
less than a percent. ``until="converged"`` ends a scale once the total loss fell by less than
``tolerance`` (relative) over the last :data:`CONVERGENCE_WINDOW` steps, but never before
:data:`MIN_SCALE_STEPS` steps of that scale: the first steps of a scale can stall while
L-BFGS builds its curvature history. The next scale (or the result) starts from there.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["ConvergenceWatch", "UNTIL", "CONVERGENCE_WINDOW", "MIN_SCALE_STEPS", "DEFAULT_TOLERANCE"]

UNTIL = ("converged", "steps")
#: Steps over which the loss's fall is measured.
CONVERGENCE_WINDOW = 10
#: Steps a scale always runs (or all its steps, if it has fewer).
MIN_SCALE_STEPS = 20
#: A scale whose loss fell by less than this fraction over the window has converged
#: (chosen from the curves in docs/performance.md, "Convergence").
DEFAULT_TOLERANCE = 0.002


class ConvergenceWatch:
    """Feed it each step's loss; it says when the loss has stopped falling."""

    def __init__(self, tolerance: float = DEFAULT_TOLERANCE, *, window: int = CONVERGENCE_WINDOW,
                 min_steps: int = MIN_SCALE_STEPS) -> None:
        self.tolerance, self.min_steps = tolerance, max(min_steps, window + 1)
        self._recent: deque[float] = deque(maxlen=window + 1)
        self.steps = 0

    def converged(self, loss: float) -> bool:
        """Record ``loss`` (this step's); whether the scale may end after it."""
        self.steps += 1
        self._recent.append(loss)
        if self.steps < self.min_steps or not math.isfinite(loss):
            return False
        before = self._recent[0]
        return (before - loss) <= self.tolerance * abs(before)
