"""Training throughput of ``nst_engine.train``: training crops per second.

Johnson et al. 2016's network on 256² crops, batch 4, the weight-free ``random-multiscale``
backbone at its defaults and the default losses: the seconds between consecutive step events
after ``--warmup`` steps, median over ``--steps`` timed ones, as images (crops) per second.
The training images are synthetic (a time-lapse of moving gradients), so no data is needed.

    python benchmarks/bench_train.py [--size 256] [--batch-size 4] [--steps 5] [--warmup 2]
        [--threads N] [--device cpu] [--backbone random-multiscale]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from nst_engine.training import train


def _frames(count: int, shape: tuple[int, int]) -> list[np.ndarray]:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    return [np.stack([np.sin(6 * rows + t / 3) * 0.5 + 0.5, (cols + t / count) % 1.0, rows * cols], -1)
            .astype(np.float32) for t in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backbone", default="random-multiscale")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    style = rng.random((args.size, args.size, 3)).astype(np.float32)
    images = _frames(8, (args.size * 3 // 2, args.size * 2))
    events = train(style, images, backbone=args.backbone, size=args.size, batch_size=args.batch_size,
                   steps=args.warmup + args.steps, device=args.device, threads=args.threads, preview_every=0)
    times, last = [], None
    for event in events:
        now = time.perf_counter()
        if last is not None and event.step > args.warmup:
            times.append(now - last)
        last = now
    seconds = statistics.median(times)
    print(f"{args.backbone}, {args.size}² crops, batch {args.batch_size}, device {args.device}, "
          f"{args.threads or torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.1f}: "
          f"median {seconds:.3f} s/step over {len(times)} steps = {args.batch_size / seconds:.2f} images/s")


if __name__ == "__main__":
    main()
