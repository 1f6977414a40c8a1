"""High resolution on the CPU: progressive refinement up to 2048², time and peak memory.

Runs the engine (VGG-19 with random weights: time and memory do not depend on their values,
and ImageNet weights cannot be downloaded here) on astronaut scaled to ``--size``², with the
coarse-to-fine schedule (512 → 1024 → 2048), and reports seconds per step at each scale and
the process's peak resident memory. ``--checkpointing on|off|auto`` compares the
memory-saving recomputation of activations.

    python benchmarks/high_resolution.py [--size 2048] [--steps 6] [--checkpointing auto]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from nst_engine.pipeline import iter_stylize
from nst_engine.samples import sample_image


def _status_mb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--scales", type=int, default=3)
    parser.add_argument("--backbone", default="vgg19")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpointing", choices=["auto", "on", "off"], default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpointing = {"auto": None, "on": True, "off": False}[args.checkpointing]
    content = sample_image("astronaut")
    style = sample_image("immunohistochemistry")
    options = {"weights": "random"} if args.backbone.startswith(("vgg", "resnet")) else {}
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    stamps: dict[tuple[int, int], list[float]] = {}
    last = started
    events = iter_stylize(content, style, backbone=args.backbone, backbone_options=options, size=args.size,
                          steps=args.steps, scales=args.scales, checkpointing=checkpointing, preview_every=0)
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            result = done.value
            break
        now = time.perf_counter()
        stamps.setdefault(event.shape, []).append(now - last)
        last = now
    report = {
        "size": args.size, "backbone": args.backbone, "threads": args.threads,
        "checkpointing": result.provenance["checkpointing"],
        "seconds_per_step": {f"{h}x{w}": round(statistics.median(v), 2) for (h, w), v in stamps.items()},
        "total_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": _status_mb("VmHWM"), "rss_before_mb": before,
        "estimated_mb": round(result.provenance["memory"]["peak_bytes"] / 2**20),  # above rss_before_mb
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
