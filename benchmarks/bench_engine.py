"""Engine overhead over the floor: seconds per iteration vs the bare network's forward+backward.

For each size and precision, in one process and interleaved (so machine noise hits both alike):
- floor: torchvision's VGG-19 features cut after relu5_1, frozen, channels-last, one forward
  and backward of a sum over the six Gatys layers w.r.t. the input image (for bf16, the
  forward under ``torch.autocast``);
- engine: ``iter_stylize`` with VGG-19 (random weights: timing is independent of their
  values), the default losses and L-BFGS, seconds between consecutive step events;
- the same with the weight-free ``random-multiscale`` backbone (goal: <= 2x VGG-19).
Prints medians and the ratio engine / floor (goal, fp32: <= 1.05). The Gram matrices' own
matmuls are part of the engine's step and not of the floor, so a second floor adds a plain
``torch.bmm`` Gram per style layer: engine / (floor + Grams) is the engine's own overhead.
A CPU run keeps freed memory in the heap between steps (``nst_engine.heap``), which the bare
floor, run with glibc's defaults, does not: a third floor runs inside the same
``kept_heap``, and engine / (floor, heap kept) is the engine's overhead without that gain.
Also the peak resident memory of a separate process per size running the engine in fp32. bf16 rows appear where the device
has native bf16 (``nst_engine.precision.has_bf16``); ``--precisions fp32`` skips them. The
quality figures of bf16 against fp32 are docs/performance.md's "Precision" script.

    python benchmarks/bench_engine.py [--sizes 256 512] [--steps 8] [--threads 1] [--device cpu]
        [--precisions fp32 bf16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from contextlib import nullcontext

import numpy as np
import torch
from torchvision.models.vgg import cfgs, make_layers

from nst_engine.heap import kept_heap
from nst_engine.pipeline import iter_stylize
from nst_engine.precision import has_bf16

GATYS_LAYERS = (1, 6, 11, 20, 22, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu4_2, relu5_1
CONTENT_LAYER = 22


def _plain_gram(x: torch.Tensor) -> torch.Tensor:
    flat = x.float().flatten(2)
    return torch.bmm(flat, flat.transpose(1, 2))


def floor_step_times(size: int, steps: int, device: str, precision: str = "fp32", grams: bool = False) -> list[float]:
    """The bare network's forward+backward; ``grams``: plus a plain Gram matrix per style layer."""
    net = make_layers(cfgs["E"])[:30].eval().requires_grad_(False).to(device, memory_format=torch.channels_last)
    image = torch.rand(1, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    image.requires_grad_(True)
    autocast = (torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if precision == "bf16"
                else nullcontext())
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        x, total = image, 0.0
        with autocast:
            for index, module in enumerate(net):
                x = module(x)
                if index in GATYS_LAYERS:
                    total = total + (_plain_gram(x).sum() if grams and index != CONTENT_LAYER else x.float().sum())
        total.backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        image.grad = None
    return times[1:]  # the first call pays one-off allocation costs


def engine_step_times(size: int, steps: int, device: str, backbone: str = "vgg19",
                      precision: str = "fp32") -> list[float]:
    rng = np.random.default_rng(0)
    content, style = rng.random((size, size, 3), np.float32), rng.random((size, size, 3), np.float32)
    options = {"weights": "random"} if backbone.startswith("vgg") else {}
    events = iter_stylize(content, style, backbone=backbone, backbone_options=options,
                          steps=steps + 1, size=size, scales=1, device=device, preview_every=0,
                          precision=precision)
    stamps = []
    for _ in events:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
    return list(np.diff(stamps))


def peak_memory_mb(size: int, steps: int, device: str) -> dict:
    """Peak RSS of a fresh process while it runs the engine, and its RSS before the run."""
    done = subprocess.run([sys.executable, __file__, "--memory", str(size), "--steps", str(steps), "--device", device],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _status_mb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    raise KeyError(field)


def _memory_child(size: int, steps: int, device: str) -> None:
    # Importing CUDA torch maps ~1 GB of libraries; reset the high-water mark after it so
    # the peak is the run's own (Linux: writing 5 to clear_refs resets VmHWM).
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_mb("VmRSS")
    engine_step_times(size, steps, device)
    print(json.dumps({"peak_mb": _status_mb("VmHWM"), "imports_mb": base}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of floor and engine")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory:
        _memory_child(args.memory, args.steps, args.device)
        return
    precisions = [p for p in args.precisions if p == "fp32" or has_bf16(torch.device(args.device))]
    print(f"torch {torch.__version__}, device {args.device}, threads {args.threads}, "
          f"{args.steps} steps x {args.rounds} rounds per measurement, precisions {', '.join(precisions)}")
    print("| size | precision | floor s/iter | floor + Grams s/iter | floor, heap kept s/iter | engine s/iter | ratio | "
          "ratio to floor + Grams | ratio to floor, heap kept | random-multiscale s/iter | vs engine | peak RSS (MB) | "
          "RSS before the run (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst, worst_random = 0.0, 0.0
    for size in args.sizes:
        memory = peak_memory_mb(size, args.steps, args.device)
        for precision in precisions:
            floor, grams, kept, engine, random = [], [], [], [], []
            for _ in range(args.rounds):
                floor += floor_step_times(size, args.steps, args.device, precision)
                grams += floor_step_times(size, args.steps, args.device, precision, grams=True)
                with kept_heap(peak_bytes=0, available_bytes=None):
                    kept += floor_step_times(size, args.steps, args.device, precision)
                engine += engine_step_times(size, args.steps, args.device, precision=precision)
                random += engine_step_times(size, args.steps, args.device, "random-multiscale", precision)
            f, g, k, e, r = (statistics.median(x) for x in (floor, grams, kept, engine, random))
            if precision == "fp32":
                worst, worst_random = max(worst, e / f), max(worst_random, r / e)
            print(f"| {size}² | {precision} | {f:.3f} | {g:.3f} | {k:.3f} | {e:.3f} | {e / f:.3f} | {e / g:.3f} | "
                  f"{e / k:.3f} | {r:.3f} | {r / e:.2f} | "
                  f"{memory['peak_mb']} | {memory['imports_mb']} |", flush=True)
    passed = worst <= 1.05 and worst_random <= 2.0
    print(f"worst fp32 engine/floor {worst:.3f} (goal <= 1.05); worst random-multiscale/VGG-19 engine "
          f"{worst_random:.2f} (goal <= 2): {'PASS' if passed else 'FAIL'}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
