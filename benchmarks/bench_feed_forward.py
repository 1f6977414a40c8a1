"""Feed-forward models: seconds per frame of ``Model.apply``; a trained model against optimisation.

Run from the repository root::

    python benchmarks/bench_feed_forward.py apply [--sizes 256,512,1024] [--threads 2] [--runs 5]
    python benchmarks/bench_feed_forward.py compare [--size 128] [--iterations 2000] [--batch-size 1]
        [--frames 24] [--opt-steps 300] [--threads 2] [--blends 0.5,0.8] [--save-model M.pt | --model M.pt] [--json out.json]

**apply**: Johnson et al.'s transformer net (random initialisation: the speed does not depend
on the weights) through :meth:`Model.apply` on an RGB image of each side, on the CPU with
``--threads`` torch threads in fp32, and in bf16 autocast where the CPU computes bfloat16
natively (AMX or AVX-512 BF16, probed as :mod:`nst_engine.precision` does; elsewhere the row
says it was skipped); on CUDA too when a GPU is there. Each row is the median of ``--runs``
calls after two warm-up calls, in wall seconds and in the process's CPU seconds (on a shared
machine, CPU seconds / threads estimates the wall time on idle cores). "clip s/frame" is the
same frame ``--runs`` times through ``iter_apply_frames`` (what ``nst apply`` runs on a clip:
colour handling, and on the CPU the heap kept between frames, ``nst_engine.heap``). Goal: >= 10 frames/s at 512² on 2 CPU cores in bf16 on AMX
(>= 4 without). Prints a Markdown table and the load average.

**compare**: trains ``johnson`` for ``--iterations`` steps on the frames of a synthetic pan
(bench_video's clip: astronaut, styled by coffee, random-multiscale backbone), then, on the
clip's middle frame, holds the model's output against a ``--opt-steps`` optimisation of that
frame (defaults otherwise): content, style (Gram) and total loss of both images under one
objective (the frame's default objective at ``--size``, evaluated once), and seconds per frame.
Over the whole clip it measures the temporal error of the applied frames (plain, and with each
``--blends`` strength of ``temporal_blend``, whose middle frame's losses are in the table too) beside that of
``stylize_video(coherence="temporal")`` on the same clip (the video issue's best mode), and
the training throughput in crops per second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from nst_engine.models import johnson, load_model
from nst_engine.models.applying import iter_apply_frames
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


def _clip_seconds(model, image: np.ndarray, *, precision: str, device: torch.device, runs: int) -> float:
    """Median wall seconds between the frames of a clip of ``image`` repeated, after the warm-up frames."""
    events = iter_apply_frames(model, [image] * (WARM_UP + runs), size=image.shape[1], precision=precision,
                               device=device.type, threads=torch.get_num_threads())
    stamps = [time.perf_counter()]
    for _ in events:
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
    return statistics.median(np.diff(stamps)[WARM_UP:])


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
                    row.update(seconds=seconds, fps=1.0 / seconds, cpu=cpu,
                               clip=_clip_seconds(model, image, precision=precision, device=device, runs=runs))
                rows.append(row)
    return rows


def _objective_losses(image: np.ndarray, frame: np.ndarray, style: np.ndarray, size: int) -> dict:
    """``image``'s weighted losses under the default objective of ``frame`` styled by ``style``."""
    from nst_engine.pipeline import iter_stylize

    events = iter_stylize(frame, style, init_image=image, size=size, scales=1, steps=1, until="steps",
                          backbone="random-multiscale", precision="fp32", device="cpu", preview_every=0)
    return next(events).losses  # L-BFGS's first step evaluates the initial image only


def bench_compare(args: argparse.Namespace) -> dict:
    """Train, apply, optimise, measure (see the module docstring)."""
    from skimage import data

    from nst_engine.generators import result_of
    from nst_engine.metrics.temporal import temporal_error
    from nst_engine.models.applying import apply_frames
    from nst_engine.pipeline import iter_stylize
    from nst_engine.training import train_model
    from nst_engine.video.stylize import stylize_video
    from nst_engine.video.synthetic import pan

    torch.set_num_threads(args.threads)
    size, style = args.size, data.coffee()
    clip = pan(frames=args.frames, size=size, speed=(3 * size / 256, size / 256))
    started = time.perf_counter()
    if args.model:  # trained before (--save-model): its training figures are not measured again
        model, train_s = load_model(args.model), float("nan")
    else:
        trained = train_model(style, list(clip.frames), size=size, steps=args.iterations, batch_size=args.batch_size,
                              backbone="random-multiscale", seed=0, threads=args.threads, preview_every=0)
        train_s = time.perf_counter() - started
        if args.save_model:
            trained.save(args.save_model)
        model = trained.model
    model.eval()
    started = time.perf_counter()
    applied = [model.apply(frame) for frame in clip.frames]
    apply_s = (time.perf_counter() - started) / len(applied)
    blends = {}
    for strength in args.blends:
        started = time.perf_counter()
        frames = apply_frames(model, clip.frames, temporal_blend=strength).frames
        blends[str(strength)] = {"temporal_error": temporal_error(frames, clip.frames).mean,
                                 "s_per_frame": (time.perf_counter() - started) / len(frames),
                                 "losses": _objective_losses(frames[len(frames) // 2], clip.frames[len(frames) // 2],
                                                             style, size)}
    middle = clip.frames[len(clip.frames) // 2]
    started = time.perf_counter()
    optimised = result_of(iter_stylize(middle, style, size=size, steps=args.opt_steps, until="steps",
                                       backbone="random-multiscale", seed=0, threads=args.threads,
                                       device="cpu", preview_every=0)).image
    optimise_s = time.perf_counter() - started
    started = time.perf_counter()
    video = stylize_video(clip.frames, style, backbone="random-multiscale", size=size, coherence="temporal",
                          seed=0, threads=args.threads)
    video_s = (time.perf_counter() - started) / len(clip.frames)
    return {
        "size": size, "iterations": args.iterations, "batch_size": args.batch_size, "frames": args.frames,
        "train_images_per_s": args.iterations * args.batch_size / train_s, "train_s": train_s,
        "model": {"losses": _objective_losses(applied[len(applied) // 2], middle, style, size), "s_per_frame": apply_s,
                  "temporal_error": temporal_error(applied, clip.frames).mean},
        "blended": blends,
        "optimisation": {"losses": _objective_losses(optimised, middle, style, size), "s_per_frame": optimise_s,
                         "steps": args.opt_steps},
        "temporal video": {"temporal_error": temporal_error(video.frames, clip.frames).mean, "s_per_frame": video_s},
    }


def _compare_table(found: dict) -> str:
    model, optimised = found["model"], found["optimisation"]
    lines = [f"{found['iterations']} iterations of batch {found['batch_size']} at {found['size']}² "
             f"({found['train_images_per_s']:.2f} crops/s, {found['train_s'] / 60:.1f} min)", "",
             "| image of the middle frame | content | style (Gram) | total | s/frame |", "|---|---|---|---|---|"]
    rows = [("johnson, trained", model)] + [(f"johnson, temporal blend {k}", v) for k, v in found["blended"].items()]
    rows.append((f"optimised, {optimised['steps']} steps", optimised))
    for label, row in rows:
        losses = row["losses"]
        lines.append(f"| {label} | {losses['content']:.4g} | {losses['gram']:.4g} | {losses['total']:.4g} | "
                     f"{row['s_per_frame']:.3f} |")
    lines += ["", f"temporal error over {found['frames']} frames: applied model {model['temporal_error']:.3g}"]
    lines += [f"  with temporal blend {k}: {v['temporal_error']:.3g}" for k, v in found["blended"].items()]
    lines += [f"  stylize_video temporal: {found['temporal video']['temporal_error']:.3g} "
              f"({found['temporal video']['s_per_frame']:.1f} s/frame)"]
    return "\n".join(lines)


def _table(rows: list[dict]) -> str:
    lines = ["| device | precision | side | threads | s/frame | frames/s | CPU s/frame | clip s/frame | clip frames/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        timing = (f"{row['seconds']:.4f} | {row['fps']:.2f} | {row['cpu']:.4f} | {row['clip']:.4f} | {1 / row['clip']:.2f}"
                  if "seconds" in row else "skipped: no native bf16 | - | - | - | -")
        lines.append(f"| {row['device']} | {row['precision']} | {row['side']}² | {row['threads'] or '-'} | {timing} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["apply", "compare"])
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=128, help="compare: crops, frames and optimisation")
    parser.add_argument("--iterations", type=int, default=2000, help="compare: training steps")
    parser.add_argument("--batch-size", type=int, default=1, help="compare: crops per training step")
    parser.add_argument("--frames", type=int, default=24, help="compare: frames of the pan")
    parser.add_argument("--opt-steps", type=int, default=300, help="compare: steps of the optimisation")
    parser.add_argument("--save-model", type=Path, help="compare: keep the trained model here")
    parser.add_argument("--model", type=Path, help="compare: a model saved by --save-model, instead of training")
    parser.add_argument("--blends", type=lambda v: [float(x) for x in v.split(",")], default=[0.5, 0.8],
                        help="compare: temporal_blend strengths applied as well")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.part == "compare":
        found = bench_compare(args)
        print(_compare_table(found))
        print(f"\ntorch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()[0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps(found, indent=1))
        return
    if args.runs < 5:
        parser.error("--runs must be at least 5: a median of fewer is noise")
    rows = bench_apply([int(s) for s in args.sizes.split(",")], threads=args.threads, runs=args.runs)
    print(_table(rows))
    flags = "AMX/AVX-512 BF16" if has_bf16(torch.device("cpu")) else "no native bf16"
    print(f"\ntorch {torch.__version__}, CPU: {flags}, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
