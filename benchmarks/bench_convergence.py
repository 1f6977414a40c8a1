"""Loss against wall time: where a run's steps pay, on five content/style pairs from skimage.data.

Three schedules, the same losses, backbone and size:
- single: one scale, every step (``scales=1, until="steps"``), the plain Gatys run;
- even: the former default, steps split evenly over 3 scales, every step;
- default: today's default, most steps at the coarse scales (``COARSE_RATIO``) and each scale
  ended once its loss stops falling (``until="converged"``).
The loss of a multi-scale run is comparable with the single-scale one only at the finest
scale (same image size, same targets), so the curves show the finest scale's losses, at the
wall time since the run began (coarse scales and planning included). Reported per pair: the
time at which each schedule first reaches the single-scale run's final loss, as a fraction
of the single-scale run's time (goal for ``default``: <= 0.4), and each final loss relative
to single's. Runs are one torch thread each, one after another. Times are the thread's CPU
seconds (``time.thread_time``: with one torch thread the work runs in the calling thread),
which equal wall seconds on an idle machine and, unlike them, do not grow when another
process shares the cores; wall seconds are saved too, and the load average is printed.

    python benchmarks/bench_convergence.py [--size 256] [--steps 300] [--backbone random-multiscale]
        [--pairs 5] [--json results.json] [--plot docs/images/convergence.png]
        [--candidate NAME=COARSE_RATIO:TOLERANCE ...]   # other converged schedules to compare
        [--line-search]   # also single-ls and default-ls: L-BFGS with a strong-Wolfe line search
        [--first-move 0.01]   # also single-fm and default-fm: L-BFGS's first step moves values by this much
        [--only PAIR ...]   # run these pairs (content__style) only, e.g. to split the pairs over processes
    python benchmarks/bench_convergence.py --replot results.json --plot docs/images/convergence.png [--show single default]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from skimage import data
from skimage.color import gray2rgb

import nst_engine.plan
from nst_engine.pipeline import iter_stylize

#: Content and style from skimage.data, contents photos, styles textures or micrographs.
PAIRS = (
    ("chelsea", "immunohistochemistry"),
    ("astronaut", "hubble_deep_field"),
    ("coffee", "retina"),
    ("rocket", "gravel"),
    ("camera", "coffee"),
)

SCHEDULES = {
    "single": {"scales": 1, "until": "steps"},
    "even": {"scales": 3, "until": "steps", "coarse_ratio": 1.0},
    "default": {},
}


def _image(name: str) -> np.ndarray:
    image = getattr(data, name)()
    return gray2rgb(image) if image.ndim == 2 else image[..., :3]


def run_curve(content: np.ndarray, style: np.ndarray, *, schedule: dict, **options) -> dict:
    """Per step: CPU and wall seconds since the call, scale index and total loss; the run's steps."""
    schedule = dict(schedule)
    ratio = schedule.pop("coarse_ratio", None)
    original = nst_engine.plan.split_steps
    if ratio is not None:  # the former even split, without an engine option for it
        nst_engine.plan.split_steps = lambda steps, parts: original(steps, parts, coarse_ratio=ratio)
    try:
        started, cpu_started = time.perf_counter(), time.thread_time()
        events = iter_stylize(content, style, preview_every=0, threads=1, **options, **schedule)
        times, wall, scales, losses = [], [], [], []
        while True:
            try:
                event = next(events)
            except StopIteration as done:
                provenance = done.value.provenance
                break
            times.append(time.thread_time() - cpu_started)
            wall.append(time.perf_counter() - started)
            scales.append(event.scale)
            losses.append(event.losses["total"])
    finally:
        nst_engine.plan.split_steps = original
    return {"time": times, "wall": wall, "scale": scales, "loss": losses, "scales": len(provenance["scales"]),
            "steps_run_per_scale": provenance["steps_run_per_scale"], "total_s": provenance["timings"]["total_s"]}


def finest(curve: dict) -> tuple[list[float], list[float]]:
    last = curve["scales"] - 1
    kept = [(t, l) for t, s, l in zip(curve["time"], curve["scale"], curve["loss"]) if s == last]
    return [t for t, _ in kept], [l for _, l in kept]


def reach_fraction(curve: dict, target: float, single_s: float) -> float | None:
    """When the finest scale's loss first reaches ``target``, as a fraction of ``single_s``."""
    times, losses = finest(curve)
    hit = next((t for t, loss in zip(times, losses) if loss <= target), None)
    return None if hit is None else hit / single_s


def summarise(results: dict) -> list[dict]:
    rows = []
    for pair, curves in results["pairs"].items():
        single = curves["single"]
        target, single_s = single["loss"][-1], single["time"][-1]
        for name, curve in curves.items():
            rows.append({
                "pair": pair, "schedule": name, "steps_run_per_scale": curve["steps_run_per_scale"],
                "time_s": round(curve["time"][-1], 1), "time_vs_single": round(curve["time"][-1] / single_s, 3),
                "final_loss_vs_single": round(finest(curve)[1][-1] / target, 3),
                "reaches_single_at": reach_fraction(curve, target, single_s),
                "reaches_1pct_at": reach_fraction(curve, target * 1.01, single_s),
            })
    return rows


def print_table(rows: list[dict]) -> None:
    print("| pair | schedule | steps run per scale | time (s) | time / single | final loss / single's | "
          "reaches single's final loss at (× single's time) | reaches 1.01× it at |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        reach, near = ("never" if x is None else f"{x:.2f}" for x in (r["reaches_single_at"], r["reaches_1pct_at"]))
        print(f"| {r['pair']} | {r['schedule']} | {r['steps_run_per_scale']} | {r['time_s']} | "
              f"{r['time_vs_single']:.2f} | {r['final_loss_vs_single']:.3f} | {reach} | {near} |")
    for name in dict.fromkeys(r["schedule"] for r in rows):
        reach = [r["reaches_single_at"] for r in rows if r["schedule"] == name]
        reached = [x for x in reach if x is not None]
        times = [r["time_vs_single"] for r in rows if r["schedule"] == name]
        print(f"{name}: reaches single's final loss on {len(reached)}/{len(reach)} pairs, median at "
              f"{statistics.median(reached) if reached else float('nan'):.2f}× single's time; "
              f"median total time {statistics.median(times):.2f}× single's")


def plot(results: dict, path: Path, show: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(results["pairs"])
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.2 * len(pairs), 3.0), constrained_layout=True)
    for ax, pair in zip(np.atleast_1d(axes), pairs):
        curves = results["pairs"][pair]
        target = curves["single"]["loss"][-1]
        for name, curve in curves.items():
            if show and name not in show:
                continue
            times, losses = finest(curve)
            ax.plot(times, losses, label=name, lw=1.4)
        ax.axhline(target, color="gray", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(target * 0.9, target * 3)
        ax.set_title(pair.replace("__", " ← "), fontsize=9)
        ax.set_xlabel("time (s, one thread)")
    np.atleast_1d(axes)[0].set_ylabel("total loss at full size")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"{results['backbone']}, {results['size']} px, {results['steps']} steps at most, 1 thread", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--backbone", default="random-multiscale")
    parser.add_argument("--pairs", type=int, default=len(PAIRS))
    parser.add_argument("--json", type=Path, help="write the curves here")
    parser.add_argument("--plot", type=Path, help="draw the curves here (PNG)")
    parser.add_argument("--replot", type=Path, help="summarise and plot saved curves instead of running")
    parser.add_argument("--show", nargs="+", metavar="NAME", help="plot only these schedules")
    parser.add_argument("--line-search", action="store_true",
                        help="also run single and default with L-BFGS's strong-Wolfe line search")
    parser.add_argument("--first-move", type=float, metavar="MOVE",
                        help="also run single and default with L-BFGS's first_move=MOVE")
    parser.add_argument("--only", nargs="+", metavar="PAIR", help="run only these pairs (content__style)")
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=COARSE_RATIO:TOLERANCE",
                        help="also run a converged schedule with this step split and tolerance")
    args = parser.parse_args()
    schedules = dict(SCHEDULES)
    for candidate in args.candidate:
        name, _, spec = candidate.partition("=")
        ratio, _, tolerance = spec.partition(":")
        schedules[name] = {"coarse_ratio": float(ratio), "tolerance": float(tolerance)}
    variants = {"ls": {"line_search": True} if args.line_search else None,
                "fm": {"first_move": args.first_move} if args.first_move else None}
    for suffix, optimizer_options in variants.items():
        if optimizer_options:
            schedules.pop("even", None)
            for name in ("single", "default"):
                schedules[f"{name}-{suffix}"] = {**SCHEDULES[name], "optimizer_options": optimizer_options}
    pairs = [p for p in PAIRS[: args.pairs] if not args.only or f"{p[0]}__{p[1]}" in args.only]
    if args.replot:
        results = json.loads(args.replot.read_text())
    else:
        torch.set_num_threads(1)
        options = {"backbone_options": {"weights": "random"}} if args.backbone.startswith("vgg") else {}
        results = {"backbone": args.backbone, "size": args.size, "steps": args.steps, "torch": torch.__version__,
                   "load_before": os.getloadavg(), "pairs": {}}
        # The first run in a process pays one-off allocation costs: not any schedule's.
        run_curve(_image("chelsea"), _image("coffee"), schedule=SCHEDULES["single"], backbone=args.backbone,
                  size=args.size, steps=5, device="cpu", **options)
        for content_name, style_name in pairs:
            content, style = _image(content_name), _image(style_name)
            curves = {name: run_curve(content, style, schedule=schedule, backbone=args.backbone, size=args.size,
                                      steps=args.steps, device="cpu", **options)
                      for name, schedule in schedules.items()}
            results["pairs"][f"{content_name}__{style_name}"] = curves
            print(f"{content_name} <- {style_name}: " + ", ".join(
                f"{n} {c['time'][-1]:.0f} s {c['steps_run_per_scale']}" for n, c in curves.items()), flush=True)
        results["load_after"] = os.getloadavg()
        if args.json:
            args.json.write_text(json.dumps(results))
    print(f"load average before {results['load_before']}, after {results.get('load_after')}")
    print_table(summarise(results))
    if args.plot:
        plot(results, args.plot, args.show)


if __name__ == "__main__":
    main()
