"""Sliced optimal transport color transfer.

Pitié, Kokaram & Dahyot (2007), "Automated colour grading using colour distribution
transfer", move the source's 3-D color distribution towards the reference's by repeatedly
matching 1-D distributions along random directions; Rabin, Peyré, Delon & Bernot (2011),
"Wasserstein barycenter and its application to texture mixing", read each pass as a step
of gradient descent on the sliced Wasserstein distance. Each pass here draws ``projections``
directions in groups of three orthonormal ones, matches the source's projections to the
reference's quantiles along each, and moves the pixels by the mean of the groups' moves.

The image contract (any dtype the engine reads, gray or RGB, alpha kept bit-identical,
masks, shape and dtype returned unchanged) comes from :func:`nst_engine.color.rgb_transfer`:
this module is the algorithm alone, on float32 RGB.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from nst_engine.color import rgb_transfer

__all__ = ["sliced_ot"]

# Pixels the 1-D maps are fitted on: a sample of this size pins each quantile of a spread-out
# distribution to about one 8-bit level, and sorting it costs the same at any image size.
_FIT_PIXELS = 1 << 14

# Table size of each 1-D map: 4096 points over a projection's range (at most √3) are
# 0.0004 apart, less than half a 10-bit level.
_LEVELS = 4096


@rgb_transfer
def sliced_ot(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    projections: Annotated[int, {"min": 1, "max": 64, "tooltip": "random directions per iteration"}] = 6,
    iterations: Annotated[int, {"min": 1, "max": 100, "tooltip": "passes over new directions"}] = 10,
    seed: Annotated[int, {"tooltip": "seed of the random directions and pixel samples"}] = 0,
    strength: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "0 keeps the source, 1 moves it all the way"}] = 1.0,
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Recolour ``source`` with ``reference``'s colors by sliced optimal transport.

    Parameters
    ----------
    source, reference
        Gray, gray + alpha, RGB or RGBA images; integers or floats in [0, 1].
    projections
        Directions per iteration; three orthonormal ones already move every pixel in 3-D.
    iterations
        Passes, each with new directions; the distributions converge in about ten.
    seed
        Equal seeds and inputs give equal results.
    strength
        How far each pixel moves towards its transported color (0: the source unchanged).
    source_mask, reference_mask
        Optional ``H×W`` masks (nonzero selects) of the pixels the statistics come from;
        every source pixel is recoloured.

    Returns
    -------
    numpy.ndarray
        The recoloured source, with the source's shape and dtype.
    """
    # rgb_transfer hands over read-only float32 H×W×3 images and bool masks (or None).
    rng = np.random.default_rng(seed)
    # Channels first (3×N), so that every per-direction row below is contiguous.
    pixels = np.ascontiguousarray(source.reshape(-1, 3).T)
    fit = _sample(source_mask, pixels.shape[1], rng)
    target = reference.reshape(-1, 3)[_sample(reference_mask, reference.shape[0] * reference.shape[1], rng)].T
    # Where each sorted source sample's quantile falls among the sorted reference samples:
    # with equal counts the i-th goes to the i-th, so an image recoloured with itself is kept.
    positions = (np.arange(len(fit)) + 0.5) * (target.shape[1] / len(fit)) - 0.5
    ranks = np.arange(target.shape[1])
    groups = -(-projections // 3)
    for _ in range(iterations):
        directions = _directions(projections, rng)
        # einsum, not @: BLAS threads cost more than they save on products with 3 columns.
        along = np.einsum("kc,cn->kn", directions, pixels)
        reached = np.sort(np.einsum("kc,cn->kn", directions, target), axis=1)
        ends = np.stack([np.interp(positions, ranks, row) for row in reached])
        moves = _monotone_map(along, np.sort(along[:, fit], axis=1), ends) - along
        pixels += np.einsum("kc,kn->cn", directions, moves) / np.float32(groups)
    moved = pixels.T.reshape(source.shape)
    return source + np.float32(strength) * (moved - source)


def _monotone_map(values: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Row ``k`` of ``values`` mapped by the piecewise-linear map ``xs[k] -> ys[k]``.

    Tabulated on :data:`_LEVELS` points over each row's range, then read back by linear
    interpolation: within 1e-3 of ``np.interp`` and several times faster on whole images,
    whose unsorted values make each of its binary searches a cache miss.
    """
    low, high = values.min(axis=1, keepdims=True), values.max(axis=1, keepdims=True)
    grid = low + (high - low) * np.linspace(0.0, 1.0, _LEVELS, dtype=np.float32)
    table = np.stack([np.interp(g, x, y) for g, x, y in zip(grid, xs, ys)]).astype(np.float32).ravel()
    position = (values - low) * ((_LEVELS - 1) / np.maximum(high - low, np.float32(1e-12)))
    index = np.minimum(position.astype(np.intp), _LEVELS - 2)
    position -= index
    index += np.arange(len(values))[:, None] * _LEVELS
    left = table[index]
    return left + position * (table[index + 1] - left)


def _sample(selection: np.ndarray | None, count: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of at most :data:`_FIT_PIXELS` of the selected pixels (all if None), in order."""
    index = np.arange(count) if selection is None else np.flatnonzero(selection)
    return np.sort(rng.choice(index, _FIT_PIXELS, replace=False)) if len(index) > _FIT_PIXELS else index


def _directions(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit vectors, in groups of three orthonormal ones (random rotations)."""
    rotations = []
    for _ in range(-(-count // 3)):
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        rotations.append(q * np.sign(np.diag(r)))  # the sign fix makes q Haar-distributed (Mezzadri 2007)
    return np.concatenate(rotations)[:count].astype(np.float32)
