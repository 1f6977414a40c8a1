"""Runtime and peak memory of a piece of work, as the reports quote them."""

from __future__ import annotations

import sys
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

__all__ = ["Usage", "measure"]

_STATUS = Path("/proc/self/status")


@dataclass
class Usage:
    """Wall-clock seconds and peak memory above the start, in MiB, and how it was measured."""

    seconds: float = 0.0
    peak_mb: float = 0.0
    method: str = ""


def _status_kb(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _can_reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@contextmanager
def measure() -> Iterator[Usage]:
    """Measure the ``with`` block.

    On Linux the process's resident-set high-water mark is reset at the start (writing 5 to
    ``/proc/self/clear_refs``), which counts torch's and numpy's allocations alike; elsewhere
    Python's tracemalloc (numpy allocations only). CUDA work reports the device's peak instead.
    """
    usage = Usage()
    cuda = "torch" in sys.modules and sys.modules["torch"].cuda.is_available()
    if cuda:
        torch = sys.modules["torch"]
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start_bytes, usage.method = torch.cuda.memory_allocated(), "cuda peak allocated"
    elif _STATUS.exists() and _can_reset_peak():
        start_kb, usage.method = _status_kb("VmRSS"), "peak RSS"
    else:
        tracemalloc.start()
        usage.method = "tracemalloc"
    started = time.perf_counter()
    try:
        yield usage
    finally:
        if cuda:
            torch.cuda.synchronize()
            usage.peak_mb = (torch.cuda.max_memory_allocated() - start_bytes) / 2**20
        elif usage.method == "peak RSS":
            usage.peak_mb = max(0, _status_kb("VmHWM") - start_kb) / 1024
        else:
            usage.peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        usage.seconds = time.perf_counter() - started
