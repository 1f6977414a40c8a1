"""Keep freed memory in the process heap while a run steps, then hand it back to the system.

glibc serves every allocation above 32 MiB (its largest mmap threshold) with a fresh ``mmap``
and returns it with ``munmap`` when freed. A CPU step at 512² makes and frees about twenty
such tensors (activations and gradients of the first two VGG blocks), so each step page-faults
and zero-fills them anew: measured 8–10 % of the bare network's forward and backward at 512²,
14 % of an engine step and 28 % of a random-multiscale step (docs/performance.md, "Engine
overhead"). While a run is on, :func:`kept_heap` makes glibc take large blocks from the heap
and keep freed ones for the next step; at the end the settings go back and the free memory
is returned to the system (``malloc_trim``), so a long-lived process (napari) does not keep a
run's peak. A kept heap fragments: peaks measured 25 % above the estimate, which is made for
glibc's defaults, so a run whose estimate with that margin does not fit keeps the defaults.
``NST_KEEP_HEAP=0`` turns it off; elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["kept_heap", "keeps_heap", "FRAGMENTATION_MARGIN"]

# mallopt's parameters and glibc's defaults for them (malloc/malloc.c).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_NEVER_TRIM = 2**31 - 1  # mallopt takes an int

#: How much more than its estimate a run may take with the heap kept: measured 1.25 at 512²
#: and 1024² (``benchmarks/memory_calibration.py``), and a margin for the estimate's own error.
FRAGMENTATION_MARGIN = 1.5

_lock = threading.Lock()
_runs = 0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def keeps_heap(peak_bytes: int, available_bytes: int | None, device: Any = "cpu") -> bool:
    """Whether a run on ``device`` estimated at ``peak_bytes`` keeps freed memory in the heap
    (a GPU run's tensors are not the heap's)."""
    return (str(device).startswith("cpu") and os.environ.get("NST_KEEP_HEAP", "1") != "0" and _glibc() is not None
            and (available_bytes is None or peak_bytes * FRAGMENTATION_MARGIN <= available_bytes))


@contextmanager
def kept_heap(peak_bytes: int, available_bytes: int | None, device: Any = "cpu") -> Iterator[None]:
    """Large blocks stay in the heap while any run that :func:`keeps_heap` is inside."""
    global _runs
    if not keeps_heap(peak_bytes, available_bytes, device):
        yield
        return
    libc = _glibc()
    with _lock:
        _runs += 1
        if _runs == 1:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(ctypes.c_size_t(0))
