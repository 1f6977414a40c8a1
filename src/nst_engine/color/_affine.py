"""The engine of the affine transfers: statistics in a color space, one affine map per pixel.

Every space is ``L @ φ(rgb)`` with ``φ`` pixelwise (:func:`.spaces.space_parts`), so an
affine map ``A`` in the space is the affine map ``L⁻¹ A L`` after ``φ``: the statistics and
the map work on ``φ`` alone, and ``φ`` of the source is computed once for both. At 4096²
that halves the matrix products and logarithms of a transfer in lαβ. The reference's
statistics come from :data:`~._stats.REFERENCE_SAMPLES` of its pixels at most.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._io import Pair, PixelMap
from ._stats import REFERENCE_SAMPLES, AffineMap, mean_cov, sample_rows
from .spaces import space_parts

__all__ = ["AffineRule", "affine_transfer"]

#: ``(μs, Σs, μr, Σr) -> (A, target mean)`` in the space's coordinates.
AffineRule = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]

_BLOCK = 1 << 15


def affine_transfer(pair: Pair, space: str, rule: AffineRule) -> PixelMap:
    """Statistics of ``pair`` in ``space``, ``rule``'s map, as a map over source pixels."""
    parts = space_parts(space)
    source = pair.source.reshape(-1, 3)
    select = pair.select_flat()
    if parts.forward is None:
        phi = source
    else:
        phi = pair.scratch if pair.scratch is not None else np.empty(source.shape, np.float32)
    if select is None:
        store = None if phi is source else phi
        source_mean, source_cov = mean_cov(source, parts.forward, store=store)
    else:
        if phi is not source:
            for start in range(0, len(source), _BLOCK):
                phi[start : start + _BLOCK] = parts.forward(source[start : start + _BLOCK])
        source_mean, source_cov = mean_cov(phi[select])
    reference = sample_rows(pair.reference, REFERENCE_SAMPLES, seed=0)
    reference_mean, reference_cov = mean_cov(reference, parts.forward)
    linear = parts.linear()
    inverse = np.linalg.inv(linear)
    matrix, target = rule(
        linear @ source_mean,
        linear @ source_cov @ linear.T,
        linear @ reference_mean,
        linear @ reference_cov @ linear.T,
    )
    affine = AffineMap(inverse @ matrix @ linear, source_mean, inverse @ target)

    def transfer(rows: slice) -> np.ndarray:
        out = affine(phi[rows])
        return out if parts.backward is None else parts.backward(out)

    return transfer
