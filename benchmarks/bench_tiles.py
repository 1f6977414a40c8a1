"""Tiled against untiled optimisation: seconds per top-scale step, peak memory, agreement.

Each configuration runs in a fresh subprocess (VGG-19 with random weights by default, one
scale, astronaut at ``size``² styled by immunohistochemistry, L-BFGS, fp32), which reports
seconds per step (median of the steps after the first), its peak resident memory above what
it had before the run (``VmHWM`` after resetting it) and the engine's estimate. An untiled
configuration the engine estimates not to fit is skipped. ``--agreement`` adds item 4 of the
tiling issue: at 1024², tiled with 256² tiles vs untiled, same seed, 30 steps: SSIM between
the results and the relative difference of their final losses. ``--floor`` adds the same
untiled run on one thread: how far two untiled runs that differ only in float summation order
end apart, the most any other evaluation of the same objective can be expected to agree.

    python benchmarks/bench_tiles.py [--sizes 2048] [--tile 1024] [--steps 3]
                                     [--memory-sizes 8192] [--agreement [--floor] [--agreement-size 1024] [--agreement-tile 256]]
                                     [--line-search] [--first-move 0.01] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from memory_calibration import BACKBONES, _status_bytes  # the same backbones, the same way to read the peak


def _images(size: int):
    from skimage import data
    from skimage.transform import resize

    content = resize(data.astronaut(), (size, size), anti_aliasing=True).astype("float32")
    return content, data.immunohistochemistry()


def _child(config: dict) -> None:
    from nst_engine.memory import available_bytes
    from nst_engine.pipeline import iter_stylize
    from nst_engine.plan import plan_run

    content, style = _images(config["size"])
    options = {"backbone": config["backbone"], "backbone_options": BACKBONES[config["backbone"]], "size": None,
               "scales": 1, "steps": config["steps"], "until": "steps", "preview_every": 0,
               "threads": config["threads"], "tile": config["tile"], "seed": 0, "device": "cpu",
               "tile_graphs": config.get("tile_graphs"),
               "optimizer_options": {"line_search": config.get("line_search", False),
                                     "first_move": config.get("first_move", 0.0)}}
    plan = plan_run(content, style, **options, check_memory=False)
    estimate = plan.memory.peak_bytes
    if config["tile"] is None and estimate > 0.9 * (available_bytes() or estimate):
        print(json.dumps({"skipped": f"untiled needs about {estimate / 2**30:.1f} GB"}))
        return
    del plan
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_bytes("VmRSS")
    stamps, last, losses = [time.perf_counter()], None, []
    events = iter_stylize(content, style, **options)
    while True:
        try:
            last = next(events)
            stamps.append(time.perf_counter())
            losses.append(last.losses["total"])
        except StopIteration as done:
            result = done.value
            break
    peak = _status_bytes("VmHWM") - before
    steps = [b - a for a, b in zip(stamps[1:], stamps[2:])] or [stamps[-1] - stamps[0]]
    out = {"s_per_step": statistics.median(steps), "peak_bytes": peak, "estimate_bytes": estimate,
           "tiles": result.provenance["tiles"], "kept": result.provenance["kept_tile_graphs"],
           "loss": last.losses["total"] if last else None, "losses": losses}
    if config.get("save"):
        import numpy as np

        np.save(config["save"], result.image)
    print(json.dumps(out))


def _run(config: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(config["threads"]))
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(config)], capture_output=True, text=True,
                          env=env, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(label: str, found: dict) -> str:
    if "s_per_step" not in found:
        return f"{label:<26} {found.get('skipped') or found.get('error')}"
    gb = 2**30
    return (f"{label:<26} {found['s_per_step']:9.2f} s/step  peak {found['peak_bytes'] / gb:6.2f} GB  "
            f"estimate {found['estimate_bytes'] / gb:6.2f} GB ({found['estimate_bytes'] / found['peak_bytes']:.2f}x)"
            + (f"  kept graphs {found['kept']}" if found.get("tiles", [None])[-1] else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="*", default=[2048], help="tiled and untiled: s/step and peak")
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[], help="tiled only, one step: peak memory")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbone", choices=list(BACKBONES), default="vgg19")
    parser.add_argument("--agreement", action="store_true", help="1024², 256² tiles vs untiled, 30 steps")
    parser.add_argument("--floor", action="store_true", help="with --agreement: untiled on 1 thread as well")
    parser.add_argument("--agreement-size", type=int, default=1024)
    parser.add_argument("--agreement-tile", type=int, default=256)
    parser.add_argument("--first-move", type=float, default=0.0, help="lbfgs first_move (0: torch's first step)")
    parser.add_argument("--line-search", action="store_true", help="L-BFGS with its strong-Wolfe line search")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    base = {"backbone": args.backbone, "threads": args.threads, "line_search": args.line_search,
            "first_move": args.first_move}
    print(f"# bench_tiles: {args.backbone}, {args.threads} threads, load {os.getloadavg()[0]:.2f}")
    results = []
    for size in args.sizes:
        found = {"untiled": _run(dict(base, size=size, tile=None, steps=args.steps))}
        print(_row(f"{size}² untiled", found["untiled"]), flush=True)
        for graphs, label in ((None, "tiled"), (0, "tiled, no kept graphs")):
            found[label] = _run(dict(base, size=size, tile=args.tile, steps=args.steps, tile_graphs=graphs))
            print(_row(f"{size}² tiles {args.tile}{'' if graphs is None else ', bounded'}", found[label]), flush=True)
            if "s_per_step" in found[label] and "s_per_step" in found["untiled"]:
                ratio = found[label]["s_per_step"] / found["untiled"]["s_per_step"]
                print(f"{'':<26} {label} / untiled: {ratio:.2f}x")
        results.append({"size": size, **found})
    for size in args.memory_sizes:  # bounded: no graphs kept, the least memory tiling can do
        found = _run(dict(base, size=size, tile=args.tile, steps=1, tile_graphs=0))
        print(_row(f"{size}² tiles {args.tile}, bounded, 1 step", found), flush=True)
        results.append({"size": size, "tiled, no kept graphs": found, "steps": 1})
    if args.agreement:
        import numpy as np

        from nst_engine.metrics import ssim

        runs_of = {"untiled": dict(base, tile=None), "tiled": dict(base, tile=args.agreement_tile)}
        if args.floor:
            runs_of["untiled, 1 thread"] = dict(base, tile=None, threads=1)
        runs, images = {}, {}
        for label, config in runs_of.items():
            path = Path(f"/tmp/bench_tiles_{label.replace(' ', '_').replace(',', '')}.npy")
            runs[label] = _run(dict(config, size=args.agreement_size, steps=30, save=str(path)))
            images[label] = np.load(path)

        def compare(label: str) -> dict:
            return {"ssim": ssim(images["untiled"], images[label]),
                    "loss_difference": abs(runs[label]["loss"] - runs["untiled"]["loss"]) / abs(runs["untiled"]["loss"])}

        agreement = {**compare("tiled"), "s_per_step": {t: r["s_per_step"] for t, r in runs.items()},
                     "losses": {t: r["losses"] for t, r in runs.items()}}
        print(f"agreement {args.agreement_size}², {args.agreement_tile}-px tiles vs untiled, 30 steps: "
              f"SSIM {agreement['ssim']:.4f}, "
              f"final loss differs by {agreement['loss_difference']:.2%}")
        if args.floor:
            agreement["floor"] = compare("untiled, 1 thread")
            print(f"floor: untiled on 1 vs {args.threads} threads: SSIM {agreement['floor']['ssim']:.4f}, "
                  f"final loss differs by {agreement['floor']['loss_difference']:.2%}")
        results.append({"agreement": agreement})
    print(f"# load at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
