"""Speed of every color transfer at 4096² float32 RGB on one CPU thread.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_color.py

Inputs are skimage's ``astronaut`` (reference) and ``coffee`` (source) resized to 4096²
(no download). Each transfer is timed as the median of several runs (wall time, which the
targets are judged on, and this process's CPU time, which shows how much other load on the
machine slowed it); idt also reports its peak memory above the inputs, measured with
``tracemalloc`` (numpy reports its array buffers to it) in a separate, untimed run. Prints
a Markdown table and exits 1 when a target is missed.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from contextlib import nullcontext  # noqa: E402

import numpy as np  # noqa: E402
from skimage import data  # noqa: E402
from skimage.transform import resize  # noqa: E402

from nst_engine import color  # noqa: E402

SIZE = 4096
GIB = 1024**3

# name, callable, options, repeats, seconds target (None: timed only), memory target (bytes)
CASES = [
    ("reinhard", color.reinhard, {}, 5, 1.0, None),
    ("mean-std", color.mean_std, {}, 5, 1.0, None),
    ("mkl", color.mkl, {}, 5, 1.0, None),
    ("cholesky", color.cholesky, {}, 5, 1.0, None),
    ("pca", color.pca, {}, 5, 1.0, None),
    ("luminance", color.luminance, {}, 5, None, None),
    ("histogram", color.histogram, {}, 5, 3.0, None),
    ("idt", color.idt, {"iterations": 10}, 2, 15.0, 2 * GIB),
    ("idt regrain", color.idt, {"iterations": 10, "regrain": True}, 2, 15.0, None),
]


def _single_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=1)


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    source = resize(data.coffee(), (SIZE, SIZE), order=1, anti_aliasing=False)
    reference = resize(data.astronaut(), (SIZE, SIZE), order=1, anti_aliasing=False)
    return source.astype(np.float32), reference.astype(np.float32)


def _peak_bytes(fn, source, reference, options) -> int:
    tracemalloc.start()
    try:
        fn(source, reference, **options)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    source, reference = _inputs()
    rows, failed = [], False
    with _single_thread():
        for name, fn, options, repeats, target, memory_target in CASES:
            times, cpu = [], []
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(source, reference, **options)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            seconds = statistics.median(times)
            ok = target is None or seconds <= target
            memory = ""
            if memory_target is not None:
                peak = _peak_bytes(fn, source, reference, options)
                ok = ok and peak <= memory_target
                memory = f"{peak / GIB:.2f} GiB (≤ {memory_target / GIB:.0f})"
            failed |= not ok
            verdict = "pass" if ok else "FAIL"
            goal = "-" if target is None else f"≤ {target:g} s"
            rows.append(
                f"| {name} | {seconds:.2f} | {statistics.median(cpu):.2f} | {repeats} | {goal} "
                f"| {memory or '-'} | {verdict} |"
            )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Color transfers, {SIZE}² float32 RGB, 1 thread, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load average {load}")
    print()
    print("| method | median s | CPU s | runs | target | peak memory above inputs | result |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
