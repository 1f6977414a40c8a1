"""Feed-forward models: seconds per frame of ``Model.apply``.

Run from the repository root::

    python benchmarks/bench_feed_forward.py apply [--sizes 256,512,1024] [--threads 2] [--runs 5]

**apply**: Johnson et al.'s transformer net (random initialisation: the speed does not depend
on the weights) through :meth:`Model.apply` on an RGB image of each side, on the CPU with
``--threads`` torch threads in fp32, and in bf16 autocast where the CPU computes bfloat16
natively (AMX or AVX-512 BF16, probed as :mod:`nst_engine.precision` does; elsewhere the row
says it was skipped); on CUDA too when a GPU is there. Each row is the median of ``--runs``
calls after two warm-up calls, in wall seconds and in the process's CPU seconds (on a shared
machine, CPU seconds / threads estimates the wall time on idle cores). Goal: >= 10 frames/s at 512² on 2 CPU cores in bf16 on AMX
(>= 4 without). Prints a Markdown table and the load average.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import numpy as np
import torch

from nst_engine.models import johnson
from nst_engine.precision import has_bf16

WARM_UP = 2


def _seconds(model, image: np.ndarray, *, precision: str, device: torch.device, runs: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds of one ``model.apply(image)`` (output
    back on the CPU as numpy, as a caller gets it). On a shared machine the CPU seconds divided
    by the threads is what the wall time would be with the cores to itself."""
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    walls, cpus = [], []
    for index in range(WARM_UP + runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started, cpu = time.perf_counter(), time.process_time()
        with autocast:
            model.apply(image)
        if index >= WARM_UP:
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_apply(sizes: list[int], *, threads: int, runs: int) -> list[dict]:
    """One row per device, precision and side: seconds per frame and frames per second."""
    torch.set_num_threads(threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        model = johnson(seed=0).to(device).eval()
        for precision in ("fp32", "bf16"):
            native = precision == "fp32" or has_bf16(device)
            for side in sizes:
                row = {"device": device.type, "precision": precision, "side": side,
                       "threads": threads if device.type == "cpu" else None}
                if native:
                    image = np.random.default_rng(side).random((side, side, 3), dtype=np.float32)
                    seconds, cpu = _seconds(model, image, precision=precision, device=device, runs=runs)
                    row.update(seconds=seconds, fps=1.0 / seconds, cpu=cpu)
                rows.append(row)
    return rows


def _table(rows: list[dict]) -> str:
    lines = ["| device | precision | side | threads | s/frame | frames/s | CPU s/frame |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        timing = (f"{row['seconds']:.4f} | {row['fps']:.2f} | {row['cpu']:.4f}" if "seconds" in row
                  else "skipped: no native bf16 | - | -")
        lines.append(f"| {row['device']} | {row['precision']} | {row['side']}² | {row['threads'] or '-'} | {timing} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["apply"])
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5: a median of fewer is noise")
    rows = bench_apply([int(s) for s in args.sizes.split(",")], threads=args.threads, runs=args.runs)
    print(_table(rows))
    flags = "AMX/AVX-512 BF16" if has_bf16(torch.device("cpu")) else "no native bf16"
    print(f"\ntorch {torch.__version__}, CPU: {flags}, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
