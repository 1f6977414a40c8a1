"""Start-up of the ``nst`` command: what a user waits for before anything happens.

Run from the repository root (with the package installed, so that ``nst`` is on PATH)::

    python benchmarks/bench_startup.py

Each command runs as its own process, 5 times; the table gives the median wall time and the
median peak resident memory (``os.wait4``'s rusage of that one child, the per-process form of
``getrusage(RUSAGE_CHILDREN)``). For ``nst stylize`` it also gives the time until its first
line (what it is about to do), which should come before torch has finished importing. The
inputs are two small images written from scikit-image's samples. With the example plugin
installed (``pip install -e examples/nst-plugin-example``) every command also pays for its
imports; ``NST_LOAD_PLUGINS=`` measures the built-ins alone. Targets: ``nst --help``
within 1 s and 150 MB; the first line of ``nst stylize`` within 1 s. Prints a Markdown table
and the load average; exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
MB = 1024 * 1024


def _run(argv: list[str], *, first_line: bool = False) -> tuple[float, float | None, float]:
    """Wall seconds, seconds to the first stderr line (or ``None``) and peak RSS in MB."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = None
    if first_line:
        child.stderr.readline()
        first = time.perf_counter() - started
    child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {child.returncode}")
    return wall, first, usage.ru_maxrss * 1024 / MB  # ru_maxrss is in KiB on Linux


def _images(folder: Path) -> tuple[str, str]:
    """Two 128² crops of scikit-image's samples, written by another process: a child's peak
    RSS counts the pages it shares with this one when forked, so this one stays small."""
    a, b = folder / "content.png", folder / "style.png"
    script = ("import sys; from skimage import data; from nst_engine.files import write_image; "
              "write_image(sys.argv[1], data.chelsea()[:128, :128] / 255); "
              "write_image(sys.argv[2], data.immunohistochemistry()[:128, :128] / 255)")
    subprocess.run([sys.executable, "-c", script, str(a), str(b)], check=True)
    return str(a), str(b)


def main() -> int:
    nst = shutil.which("nst") or sys.exit("nst is not on PATH: pip install -e . first")
    with tempfile.TemporaryDirectory() as tmp:
        a, b = _images(Path(tmp))
        cases = [
            ("nst --help", [nst, "--help"], False, 1.0, 150.0),
            ("nst color --method reinhard", [nst, "color", a, b, "-o", f"{tmp}/c.png", "--method", "reinhard"], False, None, None),
            ("nst evaluate", [nst, "evaluate", a, b], False, None, None),
            ("nst stylize --sample --steps 1", [nst, "stylize", "--sample", "-o", f"{tmp}/s.png", "--steps", "1",
                                                "--size", "64", "--scales", "1", "--backbone", "random-multiscale"],
             True, 1.0, None),
        ]
        print("| command | median wall (s) | first line (s) | peak RSS (MB) | target |")
        print("|---|---:|---:|---:|---|")
        missed = False
        for label, argv, first_line, seconds, megabytes in cases:
            runs = [_run(argv, first_line=first_line) for _ in range(RUNS)]
            wall = statistics.median(r[0] for r in runs)
            first = statistics.median(r[1] for r in runs) if first_line else None
            rss = statistics.median(r[2] for r in runs)
            judged = first if first_line else wall
            ok = (seconds is None or judged <= seconds) and (megabytes is None or rss <= megabytes)
            missed |= not ok
            target = " ".join(filter(None, [f"≤ {seconds:g} s" if seconds else "", f"≤ {megabytes:g} MB" if megabytes else ""]))
            verdict = (target + (" ok" if ok else " MISSED")) if target else "timed only"
            print(f"| `{label}` | {wall:.2f} | {'' if first is None else f'{first:.2f}'} | {rss:.0f} | {verdict} |")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} CPUs, median of {RUNS} runs")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
