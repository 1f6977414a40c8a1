"""Speed and accuracy of each optical flow method on synthetic clips with known motion.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_flow.py [--sizes 256 512] [--pairs 3]

Clips from ``nst_engine.video.synthetic`` (skimage images, no download): a pan at
(2.5, 1) px per frame, a zoom out by 2 % per frame and a textured square moving (6, 4) px
per frame over a static background. For each method and clip: seconds per frame pair (the
median over ``--pairs`` pairs, wall time, OpenCV limited to one thread like scikit-image),
endpoint error of the backward flow (mean |w − w_true| over pixels that are not
disoccluded), and, for the moving square, how many disoccluded pixels get weight < 0.5 from
``consistency_weights`` and how many pixels more than 4 px from the square's edges get > 0.5.
The ``dis preset …`` rows are OpenCV's plain presets, for the choice of the default's
settings. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
from scipy.ndimage import binary_dilation, binary_erosion, distance_transform_edt

from nst_engine.video import flow, occlusion, synthetic

FAR_FROM_EDGE = 4


def _preset(preset: int):
    def estimate(source: np.ndarray, target: np.ndarray) -> np.ndarray:
        def to_uint8(image: np.ndarray) -> np.ndarray:
            return np.round(flow._gray(image) * 255.0).astype(np.uint8)

        return cv2.DISOpticalFlow_create(preset).calc(to_uint8(source), to_uint8(target), None)

    return estimate


def _method(name: str):
    def estimate(source: np.ndarray, target: np.ndarray) -> np.ndarray:
        return flow.optical_flow(source, target, method=name)

    return estimate


METHODS = {
    **{name: _method(name) for name in flow.FLOW_METHODS},
    "dis preset MEDIUM": _preset(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    "dis preset FAST": _preset(cv2.DISOPTICAL_FLOW_PRESET_FAST),
}


def _clips(size: int, frames: int) -> dict[str, synthetic.Clip]:
    return {
        "pan": synthetic.pan(frames=frames, size=size, speed=(2.5, 1.0)),
        "zoom out": synthetic.zoom(frames=frames, size=size, factor=0.98),
        "moving square": synthetic.moving_object(frames=frames, size=size, speed=(6.0, 4.0)),
    }


def _far_from_edges(clip: synthetic.Clip, t: int) -> np.ndarray:
    edges = np.zeros(clip.disoccluded.shape[1:], dtype=bool)
    for moving in (clip.backward_flow[t], clip.forward_flow[t]):
        mask = np.any(moving != 0, axis=-1)
        edges |= binary_dilation(mask) & ~binary_erosion(mask)
    return (distance_transform_edt(~edges) > FAR_FROM_EDGE) & ~clip.disoccluded[t]


def measure(estimate, clip: synthetic.Clip, *, square: bool) -> dict[str, float]:
    seconds, errors, zero, one = [], [], [], []
    for t in range(1, len(clip.frames)):
        previous, current = clip.frames[t - 1], clip.frames[t]
        start = time.perf_counter()
        backward = estimate(current, previous)
        seconds.append(time.perf_counter() - start)
        reliable = ~clip.disoccluded[t]
        errors.append(np.linalg.norm(backward - clip.backward_flow[t], axis=-1)[reliable].mean())
        if square:
            weights = occlusion.consistency_weights(estimate(previous, current), backward)
            zero.append(np.mean(weights[clip.disoccluded[t]] < 0.5))
            one.append(np.mean(weights[_far_from_edges(clip, t)] > 0.5))
    row = {"seconds": statistics.median(seconds), "epe": float(np.mean(errors))}
    if square:
        row |= {"zero": float(np.mean(zero)), "one": float(np.mean(one))}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--pairs", type=int, default=3)
    arguments = parser.parse_args()
    cv2.setNumThreads(1)
    print("| size | method | clip | s / pair | EPE (px) | disoccluded c<0.5 | far c>0.5 |")
    print("|---|---|---|---|---|---|---|")
    for size in arguments.sizes:
        clips = _clips(size, arguments.pairs + 1)
        for name, estimate in METHODS.items():
            for clip_name, clip in clips.items():
                row = measure(estimate, clip, square=clip_name == "moving square")
                extra = (
                    f"{row['zero']:.1%} | {row['one']:.1%}" if "zero" in row else "— | —"
                )
                print(
                    f"| {size}² | {name} | {clip_name} | {row['seconds']:.4f} | "
                    f"{row['epe']:.3f} | {extra} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
