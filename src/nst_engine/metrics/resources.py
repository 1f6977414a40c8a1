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

    Peak memory is the larger of two views: the process's resident-set high-water mark above
    its start (Linux; reset by writing 5 to ``/proc/self/clear_refs``), which sees torch's
    allocations too, and tracemalloc's peak of Python-level allocations (numpy's included),
    which also sees memory the allocator reuses without the resident set growing. CUDA work
    reports the device's peak allocation instead.
    """
    usage = Usage()
    torch = sys.modules.get("torch")
    cuda = torch is not None and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start_bytes, usage.method = torch.cuda.memory_allocated(), "cuda peak allocated"
    rss = not cuda and _STATUS.exists() and _can_reset_peak()
    start_kb = _status_kb("VmRSS") if rss else 0
    tracing = not cuda and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    if not cuda:
        usage.method = "max(peak RSS, tracemalloc)" if rss else "tracemalloc"
    started = time.perf_counter()
    try:
        yield usage
    finally:
        usage.seconds = time.perf_counter() - started
        if cuda:
            torch.cuda.synchronize()
            usage.peak_mb = (torch.cuda.max_memory_allocated() - start_bytes) / 2**20
        else:
            traced = tracemalloc.get_traced_memory()[1] / 2**20 if tracemalloc.is_tracing() else 0.0
            if tracing:
                tracemalloc.stop()
            resident = max(0, _status_kb("VmHWM") - start_kb) / 1024 if rss else 0.0
            usage.peak_mb = max(traced, resident)
