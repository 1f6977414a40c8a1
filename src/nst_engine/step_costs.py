"""How long a run will take, said before torch is imported: seconds per step per megapixel.

Each finished run records what its finest scale cost per step and megapixel in a small JSON
cache (``$NST_CACHE_DIR`` or ``$XDG_CACHE_HOME/nst``, default ``~/.cache/nst``), keyed by
backbone, device, precision and threads; the next run's estimate uses it. Before the first
run on a machine the estimate comes from :data:`CALIBRATION`, measured on a 2-core CPU
(docs/performance.md, "Quality presets"), scaled by the cores this machine has. The estimate
is of every planned step: with ``until="converged"`` a run usually ends sooner.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .schedule import split_steps

__all__ = ["estimate_seconds", "record_run", "cache_path", "CALIBRATION"]

#: Seconds per step per megapixel at the finest scale, fp32, 2 threads of a 2-core AMD EPYC
#: with the heap kept: the README's sample at 512 px, standard preset (docs/performance.md,
#: "Quality presets"; 13.0 and 7.0 before the heap was kept, on a slower CPU).
CALIBRATION: dict[str, float] = {"vgg19": 7.7, "random-multiscale": 3.5}
_CALIBRATED_CORES = 2
#: A new measurement's weight against what the cache held: steady, yet following a new machine.
_NEW_WEIGHT = 0.5
#: Runs whose finest scale is smaller, or ran fewer steps, are not learnt from: their steps
#: cost mostly fixed overheads, which would inflate the estimate of a full-size run.
_MIN_LEARN_PIXELS, _MIN_LEARN_STEPS = 256 * 256, 5


def cache_path() -> Path:
    root = os.environ.get("NST_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nst"
    return Path(root) / "step_costs.json"


def _key(backbone: str, device: str, precision: str, threads: int | None) -> str:
    return f"{backbone}|{device}|{precision}|{threads or 'default'}"


def _read() -> dict[str, float]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def estimate_seconds(shapes: list[tuple[int, int]], *, steps: int, backbone: str, device: str = "auto",
                     precision: str = "fp32", threads: int | None = None) -> float | None:
    """Seconds for every planned step over ``shapes`` (coarse to fine), or ``None`` where
    nothing measured applies.

    A scale's steps cost in proportion to its pixels; the finest scale's cost per megapixel
    is the cached measurement or the calibration (CPU only, fp32).
    """
    per_mpx = _read().get(_key(backbone, device, precision, threads))
    if per_mpx is None:
        if device not in ("auto", "cpu") or precision != "fp32" or backbone not in CALIBRATION:
            return None
        cores = threads or os.cpu_count() or _CALIBRATED_CORES
        per_mpx = CALIBRATION[backbone] * _CALIBRATED_CORES / min(cores, 16)
    return sum(n * h * w / 1e6 * per_mpx for n, (h, w) in zip(split_steps(steps, len(shapes)), shapes))


def record_run(provenance: Mapping[str, Any]) -> None:
    """Learn the finest scale's cost per step and megapixel from a finished run's provenance.

    Never fails the run: a cache that cannot be written is skipped. Written atomically, so
    two runs finishing together leave one of their files, never a torn one.
    """
    steps = provenance.get("steps_run_per_scale") or []
    seconds = (provenance.get("timings") or {}).get("scale_s") or []
    if not steps or steps[-1] < _MIN_LEARN_STEPS or len(seconds) != len(steps):
        return
    if (provenance.get("tiles") or [None])[-1]:  # a tiled scale's steps cost more: not what estimates assume
        return
    h, w = provenance["scales"][-1]
    if h * w < _MIN_LEARN_PIXELS:
        return
    measured = seconds[-1] / steps[-1] / (h * w / 1e6)
    options = provenance["options"]
    key = _key(options["backbone"], options["device"], options["precision"], options["threads"])
    costs = _read()
    costs[key] = measured if key not in costs else (1 - _NEW_WEIGHT) * costs[key] + _NEW_WEIGHT * measured
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(costs, out, indent=1)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
