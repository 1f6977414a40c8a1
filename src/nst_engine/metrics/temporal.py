"""Flicker: how far each stylised frame is from the previous one carried along the motion.

Ruder et al. (2016) judge temporal consistency by the squared difference between result
frame *t* and result *t − 1* warped into frame *t* by the optical flow of the *input* frames,
over the pixels that flow reaches reliably (occluded pixels and motion boundaries excluded,
:func:`nst_engine.video.occlusion.consistency_weights`). A still scene styled without
flicker scores 0; independent per-frame runs score high.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ImageError
from ..images import resize_to, split_image

__all__ = ["TemporalError", "temporal_error"]


@dataclass(frozen=True)
class TemporalError:
    """The mean over frame pairs, and each pair's value (frame 1 against 0, 2 against 1...)."""

    mean: float
    per_frame: tuple[float, ...]


def temporal_error(
    results: Sequence[np.ndarray] | np.ndarray,
    inputs: Sequence[np.ndarray] | np.ndarray,
    *,
    method: str | None = None,
    flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> TemporalError:
    """Mean weighted squared difference between consecutive result frames, aligned by the input's flow.

    Parameters
    ----------
    results, inputs
        The stylised frames and the frames they came from, as ``(T, H, W[, C])`` stacks or
        sequences; inputs of another size are resized to the results'.
    method
        The optical flow method (default: :data:`nst_engine.video.flow.DEFAULT_FLOW`).
    flows
        Per pair ``t`` = 1..T−1, the backward flow (frame *t* to *t − 1*) and the weights to
        use instead of estimating them: known motion, as in the benchmark's synthetic clips.
    """
    from ..video.flow import DEFAULT_FLOW, flow_pair, warp
    from ..video.occlusion import consistency_weights

    out = [split_image(frame, what=f"result frame {i}")[0] for i, frame in enumerate(results)]
    if len(out) < 2:
        raise ImageError(f"temporal error needs at least 2 frames; got {len(out)}")
    if len(inputs) != len(out):
        raise ImageError(f"{len(out)} result frames but {len(inputs)} input frames: give the frames they came from")
    if flows is not None and len(flows) != len(out) - 1:
        raise ImageError(f"{len(flows)} flows for {len(out)} frames: give one per consecutive pair")
    shape = out[0].shape[:2]
    frames = [resize_to(split_image(frame, what=f"input frame {i}")[0], shape) for i, frame in enumerate(inputs)]
    values = []
    for t in range(1, len(out)):
        if flows is not None:
            backward, weights = flows[t - 1]
        else:
            forward, backward = flow_pair(frames[t - 1], frames[t], method=method or DEFAULT_FLOW)
            weights = consistency_weights(forward, backward)
        difference = (out[t] - warp(out[t - 1], backward)) ** 2
        covered = float(weights.sum()) * difference.shape[-1]
        values.append(float((weights[..., None] * difference).sum() / covered) if covered else 0.0)
    return TemporalError(float(np.mean(values)), tuple(values))
