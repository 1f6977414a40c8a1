"""Flicker, style and time per frame of video style transfer, on clips with known motion.

Run from the repository root::

    python benchmarks/bench_video.py --frames 24 --size 256

Clips come from ``skimage.data`` (:mod:`nst_engine.video.synthetic`): a pan over
``astronaut``, a zoom into it, and a textured square sliding over it (occluding and
uncovering the background). Each is styled with
random-multiscale (works offline) by independent frames, warm start only, the short-term
temporal loss and the multi-pass schedule. Reported per configuration: the temporal error
(:func:`nst_engine.metrics.temporal.temporal_error`, flow estimated from the input frames),
its ratio to the independent frames', the mean Gram distance to the style (the style loss,
:func:`nst_engine.metrics.gram_distances`) and its ratio, seconds per frame (thread CPU
time, so other load on the machine distorts it less) and the share of it spent on flow and
weights. Goals (issue 15): temporal error ≤ 0.3× the independent frames' at a style loss
within 10 % of theirs; flow + weights ≤ 15 % of the per-frame time. ``--strip PNG`` writes a
strip of frames for docs/images/.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

CONFIGS = {
    "independent": dict(coherence="independent"),
    "warm start": dict(coherence="warm"),
    "temporal": dict(coherence="temporal"),
    "multi-pass": dict(coherence="temporal", passes=3),
}


def _pan(frames, size):
    from nst_engine.video.synthetic import pan

    return pan(frames=frames, size=size, speed=(3 * size / 256, size / 256))


def _zoom(frames, size):
    from nst_engine.video.synthetic import zoom

    return zoom(frames=frames, size=size, factor=1.015)


def _moving_object(frames, size):
    from nst_engine.video.synthetic import moving_object

    step = size / (2.0 * frames)  # the square crosses half the frame
    return moving_object(frames=frames, size=size, speed=(step, 0.6 * step))


CLIPS = {"pan": _pan, "zoom": _zoom, "moving object": _moving_object}


def _run(clip, style, options, args):
    from nst_engine.video.stylize import stylize_video

    started = time.thread_time()
    result = stylize_video(clip.frames, style, backbone="random-multiscale", size=args.size, steps=args.steps,
                           frame_steps=args.frame_steps, seed=0, threads=1, **options)
    return result, time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=150, help="steps of the first (and each independent) frame")
    parser.add_argument("--frame-steps", type=int, default=50, help="steps of each later frame")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--strip", help="write a PNG strip: rows = configurations, columns = frames")
    args = parser.parse_args()

    import torch
    from skimage import data

    from nst_engine.metrics import gram_distances
    from nst_engine.metrics.temporal import temporal_error

    torch.set_num_threads(1)
    style = data.coffee()
    clips = {name: CLIPS[name](args.frames, args.size) for name in args.clips}
    print(f"{args.frames} frames at {args.size}², random-multiscale, first frame {args.steps} steps, "
          f"later frames {args.frame_steps}")
    print("| clip | configuration | temporal error | × independent | style loss | × independent | s/frame | flow share |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for clip_name, clip in clips.items():
        reference = None
        for name in args.configs:
            result, seconds = _run(clip, style, CONFIGS[name], args)
            error = temporal_error(result.frames, clip.frames).mean
            style_loss = statistics.mean(gram_distances(result.frames, style, backbone="random-multiscale",
                                                        size=args.size))
            if reference is None:
                reference = (error, style_loss)
            flow_share = result.provenance["video"]["flow_s"] / max(result.provenance["video"]["total_s"], 1e-9)
            print(f"| {clip_name} | {name} | {error:.5f} | {error / reference[0]:.2f} | {style_loss:.4g} | "
                  f"{style_loss / reference[1]:.3f} | {seconds / args.frames:.2f} | {flow_share:.1%} |", flush=True)
            rows.append((clip_name, name, result.frames))
    if args.strip:
        from skimage.io import imsave

        from nst_engine.images import to_uint

        picked = [f for clip_name, _, frames in rows if clip_name == args.clips[0] for f in [np.concatenate(
            [frames[i] for i in np.linspace(0, len(frames) - 1, 6).astype(int)], axis=1)]]
        imsave(args.strip, to_uint(np.concatenate(picked, axis=0)), check_contrast=False)


if __name__ == "__main__":
    main()
