"""Where a warp along the optical flow can be trusted: Ruder et al.'s per-pixel weights ``c``.

Ruder, Dosovitskiy & Brox (2016) take the criteria of Sundaram, Brox & Keutzer (2010): pixel
``p`` of the current frame is *disoccluded* (not seen in the previous frame) when the forward
flow at ``p + w_b(p)`` does not bring it back, ``|w_b + w̃_f|² > 0.01 (|w_b|² + |w̃_f|²) + 0.5``
with ``w̃_f(p) = w_f(p + w_b(p))``, and lies on a *motion boundary* when
``|∇u_b|² + |∇v_b|² > 0.01 |w_b|² + 0.002``. There, and where ``p + w_b(p)`` leaves the
frame, ``c = 0``; elsewhere ``c = 1``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .flow import warp

__all__ = ["consistency_weights", "long_term_weights"]

#: Sundaram et al. 2010's forward-backward consistency thresholds (relative, absolute px²).
CONSISTENCY_RELATIVE, CONSISTENCY_ABSOLUTE = 0.01, 0.5
#: Their motion boundary thresholds on the backward flow's gradient.
BOUNDARY_RELATIVE, BOUNDARY_ABSOLUTE = 0.01, 0.002


def consistency_weights(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """``c`` ∈ {0, 1} per pixel of the current frame (float32 ``H×W``) from the flows between it and the previous."""
    forward_back = warp(forward, backward)  # w_f at p + w_b(p)
    squared = lambda w: (w ** 2).sum(-1)  # noqa: E731
    inconsistent = squared(backward + forward_back) > (
        CONSISTENCY_RELATIVE * (squared(backward) + squared(forward_back)) + CONSISTENCY_ABSOLUTE)
    dy_u, dx_u = np.gradient(backward[..., 0])
    dy_v, dx_v = np.gradient(backward[..., 1])
    boundary = dx_u ** 2 + dy_u ** 2 + dx_v ** 2 + dy_v ** 2 > BOUNDARY_RELATIVE * squared(backward) + BOUNDARY_ABSOLUTE
    rows, cols = np.indices(backward.shape[:2], dtype=np.float32)
    x, y = cols + backward[..., 0], rows + backward[..., 1]
    outside = (x < 0) | (y < 0) | (x > backward.shape[1] - 1) | (y > backward.shape[0] - 1)
    return (~(inconsistent | boundary | outside)).astype(np.float32)


def long_term_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Ruder et al.'s long-term weights: each pixel counted once, from the nearest earlier frame that sees it.

    ``weights[k]`` is ``c`` towards the frame ``k + 1``-th nearest; the result's ``k``-th is
    ``max(0, c_k − Σ_{l<k} c_l)``.
    """
    out, seen = [], np.zeros_like(weights[0])
    for c in weights:
        out.append(np.maximum(c - seen, 0.0).astype(np.float32))
        seen = seen + c
    return out
