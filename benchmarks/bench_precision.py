"""What bf16 costs in quality: a default run at 512² in fp32 and in bf16, compared.

For each backbone (VGG-19 with its fixed random weights, and the weight-free
random-multiscale), the sample pair (chelsea, immunohistochemistry) runs with the engine's
defaults (the standard preset: 300 steps at most over 3 scales, ``until="converged"``) once in
fp32 and once in bf16, each with ``--threads`` torch threads. Reported:
- each run's seconds per step and steps run;
- each result's final loss under the fp32 objective (the result given back to a one-step
  fp32 run at full size as its initial image: that step's loss is the image's own), and the
  bf16 one relative to the fp32 one (goal: within 2 %);
- SSIM between the two results (goal: >= 0.97);
- for scale, the same fp32 run on one thread instead of ``--threads``: float32 sums in another
  order, which is how far apart two runs are that differ in nothing that matters.

    python benchmarks/bench_precision.py [--size 512] [--threads 2] [--backbones vgg19 random-multiscale]
        [--line-search] [--first-move 0.01] [--json results.json]

``--line-search`` runs all of them with L-BFGS's strong-Wolfe line search (``-p
optimizer.line_search=true``), for objectives where the default unit steps stall;
``--first-move M`` with L-BFGS's first step moving the values by ``M`` on average (``-p
optimizer.first_move=M``).

bf16 needs a CPU with ``amx_bf16`` or ``avx512_bf16`` (or a CUDA GPU): elsewhere the bf16 rows
say so and are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from nst_engine.generators import result_of
from nst_engine.metrics import ssim
from nst_engine.pipeline import iter_stylize
from nst_engine.precision import has_bf16
from nst_engine.samples import sample_pair


def _options(backbone: str) -> dict:
    return {"backbone": backbone, **({"backbone_options": {"weights": "random"}} if backbone.startswith("vgg") else {})}


def fp32_loss(image: np.ndarray, style: np.ndarray, *, size: int, backbone: str) -> float:
    """``image``'s total loss under the default fp32 objective at ``size`` (one evaluation)."""
    content, _ = sample_pair()
    events = iter_stylize(content, style, init_image=image, size=size, scales=1, steps=1, until="steps",
                          precision="fp32", device="cpu", preview_every=0, **_options(backbone))
    return next(events).losses["total"]  # L-BFGS's first step evaluates the initial image only


def run(content: np.ndarray, style: np.ndarray, *, size: int, backbone: str, precision: str, threads: int,
        optimizer_options: dict) -> dict:
    started = time.perf_counter()
    result = result_of(iter_stylize(content, style, size=size, precision=precision, threads=threads, device="cpu",
                                    preview_every=0, optimizer_options=optimizer_options,
                                    **_options(backbone)))
    provenance = result.provenance
    return {"image": result.image, "precision": precision, "threads": threads,
            "steps": provenance["steps_run"], "seconds": round(time.perf_counter() - started, 1),
            "per_step_s": provenance["timings"]["per_step_s"],
            "loss": fp32_loss(result.image, style, size=size, backbone=backbone)}


def compare(size: int, backbone: str, threads: int, optimizer_options: dict) -> dict:
    content, style = sample_pair()
    same = {"size": size, "backbone": backbone, "optimizer_options": optimizer_options}
    fp32 = run(content, style, precision="fp32", threads=threads, **same)
    order = run(content, style, precision="fp32", threads=1, **same)
    row = {"backbone": backbone, "size": size, "fp32": fp32, "one_thread": order,
           "thread_order_loss_diff": abs(order["loss"] - fp32["loss"]) / fp32["loss"],
           "thread_order_ssim": ssim(fp32["image"], order["image"])}
    if has_bf16(torch.device("cpu")):
        bf16 = run(content, style, precision="bf16", threads=threads, **same)
        row.update(bf16=bf16, loss_diff=abs(bf16["loss"] - fp32["loss"]) / fp32["loss"],
                   ssim=ssim(fp32["image"], bf16["image"]))
    return row


def print_table(rows: list[dict]) -> None:
    print("| backbone | fp32 s/step (steps) | bf16 s/step (steps) | speed-up | fp32 loss of fp32 / bf16 result "
          "| difference | SSIM fp32 vs bf16 | thread order: difference, SSIM |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        a, b = r["fp32"], r.get("bf16")
        order = f"{r['thread_order_loss_diff']:.2%}, {r['thread_order_ssim']:.4f}"
        if b is None:
            print(f"| {r['backbone']} | {a['per_step_s']:.3f} ({a['steps']}) | no native bf16 | - | {a['loss']:.5g} | - | - | {order} |")
            continue
        print(f"| {r['backbone']} | {a['per_step_s']:.3f} ({a['steps']}) | {b['per_step_s']:.3f} ({b['steps']}) | "
              f"{a['seconds'] / b['seconds']:.2f}× | {a['loss']:.5g} / {b['loss']:.5g} | {r['loss_diff']:.2%} | "
              f"{r['ssim']:.4f} | {order} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbones", nargs="+", default=["vgg19", "random-multiscale"])
    parser.add_argument("--line-search", action="store_true", help="L-BFGS with its strong-Wolfe line search")
    parser.add_argument("--first-move", type=float, metavar="M", help="L-BFGS's first step moves values by M")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    optimizer_options = {"line_search": args.line_search, **({"first_move": args.first_move} if args.first_move else {})}
    load = os.getloadavg()
    rows = [compare(args.size, backbone, args.threads, optimizer_options) for backbone in args.backbones]
    print(f"load average before {load}, after {os.getloadavg()}; torch {torch.__version__}")
    print_table(rows)
    if args.json:
        strip = lambda run: {k: v for k, v in run.items() if k != "image"}  # noqa: E731
        args.json.write_text(json.dumps([{k: strip(v) if isinstance(v, dict) else v for k, v in r.items()} for r in rows],
                                        indent=1))


if __name__ == "__main__":
    main()
