"""Peak memory of a run, measured against :func:`nst_engine.memory.estimate_peak_bytes`.

Each configuration runs in a fresh subprocess (VGG-19 with random weights, or the weight-free
random-multiscale; one scale; astronaut resized to ``size``²; L-BFGS): the child resets its
resident high-water mark just before ``stylize`` and reports the peak above the RSS it had
then, which is what the estimate predicts (the run's own memory, not the interpreter's).

    python benchmarks/memory_calibration.py [--sizes 256 512 1024] [--steps 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BACKBONES = {"vgg19": {"weights": "random"}, "random-multiscale": {}}


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _options(backbone: str, size: int, steps: int, checkpointing: bool) -> dict:
    return {"backbone": backbone, "backbone_options": BACKBONES[backbone], "size": size, "steps": steps,
            "scales": 1, "checkpointing": checkpointing, "preview_every": 0, "threads": 1}


def _child(backbone: str, size: int, steps: int, checkpointing: bool) -> None:
    from nst_engine.pipeline import stylize
    from nst_engine.samples import sample_image

    content, style = sample_image("astronaut"), sample_image("immunohistochemistry")
    stylize(content, style, **dict(_options(backbone, 64, 1, False), scales=1))  # warm the allocator and imports
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_bytes("VmRSS")
    result = stylize(content, style, **_options(backbone, size, steps, checkpointing))
    peak = _status_bytes("VmHWM")
    print(json.dumps({"measured": peak - before, "estimated": result.provenance.get("memory", {}).get("peak_bytes")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=4, metavar=("BACKBONE", "SIZE", "STEPS", "CHECKPOINTING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backbone, size, steps, checkpointing = args.child
        _child(backbone, int(size), int(steps), checkpointing == "1")
        return
    rows = []
    print("| backbone | size | checkpointing | steps | estimated MB | measured MB | error |")
    print("|---|---|---|---|---|---|---|")
    for backbone in args.backbones:
        for size in args.sizes:
            child = [sys.executable, __file__, "--child", backbone, str(size), str(args.steps), str(int(args.checkpointing))]
            row = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            row.update(backbone=backbone, size=size, steps=args.steps, checkpointing=args.checkpointing)
            rows.append(row)
            estimated = row["estimated"] or 0
            error = f"{estimated / row['measured'] - 1:+.0%}" if estimated else "-"
            print(f"| {backbone} | {size}² | {'on' if args.checkpointing else 'off'} | {args.steps} | "
                  f"{estimated / 2**20:.0f} | {row['measured'] / 2**20:.0f} | {error} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
