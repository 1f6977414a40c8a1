"""Per-pixel reliability of the optical flow: Ruder et al.'s temporal-loss weights.

Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR 2016, Section 3.2,
weight the temporal loss of frame ``i`` by ``c ∈ [0, 1]``: 0 where the warped previous result
cannot be trusted (disocclusions, motion boundaries, motion out of the frame), 1 elsewhere.
They use the forward-backward consistency and motion-boundary criteria of Sundaram, Brox &
Keutzer, "Dense point trajectories by GPU-accelerated large displacement optical flow",
ECCV 2010. This module follows the authors' reference implementation,
``consistencyChecker/consistencyChecker.cpp`` of github.com/manuelruder/artistic-videos,
called there with the backward flow (current → previous) first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import correlate1d

from .flow import warp

__all__ = [
    "CONSISTENCY_RELATIVE",
    "CONSISTENCY_ABSOLUTE",
    "MOTION_BOUNDARY_RELATIVE",
    "MOTION_BOUNDARY_ABSOLUTE",
    "SMOOTHING_SIGMA",
    "consistency_weights",
    "long_term_weights",
]

#: Forward-backward inconsistency (Sundaram et al. 2010, eq. 5): pixel ``p`` is unreliable when
#: ``|w_b(p) + w_f(p + w_b(p))|² ≥ 0.01 (|w_b(p)|² + |w_f(p + w_b(p))|²) + 0.5``.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5

#: Motion boundary (Sundaram et al. 2010, eq. 6, on the backward flow as the reference code
#: does): unreliable when ``|∇w_b,x|² + |∇w_b,y|² > 0.01 |w_b|² + 0.002``, gradients by central
#: differences.
MOTION_BOUNDARY_RELATIVE = 0.01
MOTION_BOUNDARY_ABSOLUTE = 0.002

#: The reference code blurs the mask with a Gaussian (σ = 0.8 px, radius 2 px), inconsistent
#: pixels entering as −1 so the blur widens them outwards, then clips to [0, 1].
SMOOTHING_SIGMA = 0.8
_SMOOTHING_PRECISION = 2.0

_CENTRAL_DIFFERENCE = np.array([-0.5, 0.0, 0.5], dtype=np.float32)


def _gaussian(sigma: float) -> np.ndarray:
    radius = int(np.ceil(_SMOOTHING_PRECISION * sigma))
    taps = np.exp(-np.arange(-radius, radius + 1, dtype=np.float32) ** 2 / (2.0 * sigma**2))
    return taps / taps.sum()


def _motion_edges(flow: np.ndarray) -> np.ndarray:
    """``|∇w_x|² + |∇w_y|²`` by central differences, edges replicated."""
    squared = np.zeros(flow.shape[:2], dtype=np.float32)
    for axis in (0, 1):
        derivative = correlate1d(flow, _CENTRAL_DIFFERENCE, axis=axis, mode="nearest")
        squared += np.sum(derivative**2, axis=-1)
    return squared


def consistency_weights(
    forward: np.ndarray, backward: np.ndarray, *, smoothing: float = SMOOTHING_SIGMA
) -> np.ndarray:
    """Reliability ``c`` of the warped previous frame at each pixel of the current frame.

    Parameters
    ----------
    forward
        Flow previous → current, float ``H×W×2`` (``flow_pair(previous, current)[0]``).
    backward
        Flow current → previous (``flow_pair(...)[1]``): the flow the previous result is
        warped with, whose pixels ``c`` describes.
    smoothing
        σ of the reference implementation's Gaussian blur of the mask, in pixels; 0 gives the
        hard 0/1 mask.

    Returns
    -------
    numpy.ndarray
        float32 ``H×W`` in [0, 1]: 0 where ``p + w_b(p)`` leaves the previous frame, where the
        flows disagree (disocclusion) or on a motion boundary; 1 where the motion is trusted.
    """
    forward = np.asarray(forward, dtype=np.float32)
    backward = np.asarray(backward, dtype=np.float32)
    if forward.shape != backward.shape or forward.ndim != 3 or forward.shape[2] != 2:
        raise ValueError(
            f"consistency weights need two H×W×2 flows of one size: forward has shape "
            f"{forward.shape}, backward has shape {backward.shape}"
        )
    height, width = backward.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    target_x = columns + backward[..., 0]
    target_y = rows + backward[..., 1]
    # The reference also drops the last row and column (its bilinear sampler needs x + 1 < W);
    # here a position is out only where it is outside the frame.
    inside = (target_x >= 0) & (target_x <= width - 1) & (target_y >= 0) & (target_y <= height - 1)

    forward_there = warp(forward, backward)
    round_trip = np.sum((backward + forward_there) ** 2, axis=-1)
    backward_squared = np.sum(backward**2, axis=-1)
    magnitudes = backward_squared + np.sum(forward_there**2, axis=-1)
    inconsistent = round_trip >= CONSISTENCY_RELATIVE * magnitudes + CONSISTENCY_ABSOLUTE
    boundary = _motion_edges(backward) > (
        MOTION_BOUNDARY_RELATIVE * backward_squared + MOTION_BOUNDARY_ABSOLUTE
    )

    weights = np.ones((height, width), dtype=np.float32)
    weights[boundary] = 0.0
    weights[inconsistent] = -1.0
    weights[~inside] = 0.0
    if smoothing > 0:
        kernel = _gaussian(smoothing)
        weights = correlate1d(weights, kernel, axis=0, mode="nearest")
        weights = correlate1d(weights, kernel, axis=1, mode="nearest")
    return np.clip(weights, 0.0, 1.0)


def long_term_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Ruder et al.'s long-term weights: each pixel counted against its nearest reliable frame.

    ``c_long(i−j) = max(0, c(i−j) − Σ_{k<j} c(i−k))`` (Ruder et al. 2016, Section 3.3), so a
    pixel visible in a nearer previous frame is not also penalised against a farther one.

    Parameters
    ----------
    weights
        ``c(i−j)`` for ``j = 1, 2, ...`` in that order (nearest frame first): each from
        :func:`consistency_weights` of the flows between frame ``i`` and frame ``i−j``.

    Returns
    -------
    list of numpy.ndarray
        The long-term weights, in the same order, float32.
    """
    result = []
    seen = None
    for current in weights:
        current = np.asarray(current, dtype=np.float32)
        result.append(current if seen is None else np.maximum(current - seen, 0.0))
        seen = current.copy() if seen is None else seen + current
    return result
