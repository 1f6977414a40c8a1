"""Sliced optimal transport color transfer.

Pitié, Kokaram & Dahyot (2007), "Automated colour grading using colour distribution
transfer", move the source's 3-D color distribution towards the reference's by repeatedly
matching 1-D distributions along random directions; Rabin, Peyré, Delon & Bernot (2011),
"Wasserstein barycenter and its application to texture mixing", read each pass as a step
of gradient descent on the sliced Wasserstein distance. Each pass here draws ``projections``
directions in groups of three orthonormal ones, matches the source's projections to the
reference's quantiles along each, and moves the pixels by the mean of the groups' moves.

Only public napari-nst API is used: the image contract (any unsigned or [0, 1] float
dtype, gray or RGB, alpha kept bit-identical, shape and dtype returned unchanged) is written
out here with :mod:`nst_engine.images`, as any third-party transfer would.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from nst_engine.errors import ImageError
from nst_engine.images import is_image, to_uint, to_unit_float

__all__ = ["sliced_ot"]

#: Rec.601 luma: how a gray source, recoloured as RGB, goes back to one channel.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# Pixels the 1-D maps are fitted on: a sample of this size pins each quantile of a spread-out
# distribution to about one 8-bit level, and sorting it costs the same at any image size.
_FIT_PIXELS = 1 << 14

# Table size of each 1-D map: 4096 points over a projection's range (at most √3) are
# 0.0004 apart, less than half a 10-bit level.
_LEVELS = 4096


def sliced_ot(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    projections: Annotated[int, {"min": 1, "max": 64, "tooltip": "random directions per iteration"}] = 6,
    iterations: Annotated[int, {"min": 1, "max": 100, "tooltip": "passes over new directions"}] = 10,
    seed: Annotated[int, {"tooltip": "seed of the random directions and pixel samples"}] = 0,
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Recolour ``source`` with ``reference``'s colors by sliced optimal transport.

    Parameters
    ----------
    source, reference
        Gray, gray + alpha, RGB or RGBA images; unsigned integers or floats in [0, 1].
    projections
        Directions per iteration; three orthonormal ones already move every pixel in 3-D.
    iterations
        Passes, each with new directions; the distributions converge in about ten.
    seed
        Equal seeds and inputs give equal results.
    source_mask, reference_mask
        Optional ``H×W`` masks (nonzero selects) of the pixels the statistics come from;
        every source pixel is recoloured.

    Returns
    -------
    numpy.ndarray
        The recoloured source, with the source's shape and dtype.
    """
    src_rgb, src_alpha = _split(source, "source")
    ref_rgb, ref_alpha = _split(reference, "reference")
    rng = np.random.default_rng(seed)
    # Channels first (3×N), so that every per-direction row below is contiguous.
    pixels = np.ascontiguousarray(src_rgb.reshape(-1, 3).T)
    fit = _sample(_selection(src_rgb, src_alpha, source_mask, "source_mask"), rng)
    target = ref_rgb.reshape(-1, 3)[_sample(_selection(ref_rgb, ref_alpha, reference_mask, "reference_mask"), rng)].T
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
    return _restore(pixels.T.reshape(src_rgb.shape), src_alpha, source)


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


def _split(image: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``H×W×3`` float32 in [0, 1] and the untouched alpha channel (or None)."""
    image = np.asarray(image)
    if not is_image(image):
        raise ImageError(f"{what} has shape {image.shape}; expected H×W, H×W×3 or H×W×4")
    channels = 1 if image.ndim == 2 else image.shape[-1]
    alpha = image[..., -1] if channels in (2, 4) else None
    color = image if image.ndim == 2 else image[..., : channels - (alpha is not None)]
    unit = to_unit_float(color, what)  # refuses NaN and floats outside [0, 1], naming the fix
    if unit.ndim == 2 or unit.shape[-1] == 1:
        unit = np.repeat(unit.reshape(unit.shape[:2] + (1,)), 3, axis=-1)
    return unit, alpha


def _selection(rgb: np.ndarray, alpha: np.ndarray | None, mask: np.ndarray | None, what: str) -> np.ndarray:
    """``H×W`` bool: the pixels the statistics come from (the mask's, opaque ones if any)."""
    keep = np.ones(rgb.shape[:2], bool) if mask is None else np.asarray(mask) != 0
    if keep.shape != rgb.shape[:2]:
        raise ImageError(f"{what} has shape {keep.shape}; the image is {rgb.shape[:2]}")
    if alpha is not None and (keep & (alpha != 0)).any():
        keep = keep & (alpha != 0)
    if not keep.any():
        raise ImageError(f"{what} selects no pixel; select some or pass None")
    return keep


def _sample(selection: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of at most :data:`_FIT_PIXELS` of the selected pixels, in order."""
    index = np.flatnonzero(selection)
    return np.sort(rng.choice(index, _FIT_PIXELS, replace=False)) if len(index) > _FIT_PIXELS else index


def _directions(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit vectors, in groups of three orthonormal ones (random rotations)."""
    rotations = []
    for _ in range(-(-count // 3)):
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        rotations.append(q * np.sign(np.diag(r)))  # the sign fix makes q Haar-distributed (Mezzadri 2007)
    return np.concatenate(rotations)[:count].astype(np.float32)


def _restore(rgb: np.ndarray, alpha: np.ndarray | None, source: np.ndarray) -> np.ndarray:
    """Back to the source's channels, dtype and shape, with its alpha as it was."""
    source = np.asarray(source)
    color = np.clip(rgb, 0.0, 1.0)
    gray = source.ndim == 2 or source.shape[-1] in (1, 2)
    if gray:
        color = np.einsum("hwc,c->hw", color, _LUMA)[..., None]
    if np.issubdtype(source.dtype, np.integer):
        color = to_uint(color, source.dtype)
    out = color.astype(source.dtype)
    if alpha is not None:
        out = np.concatenate([out, alpha[..., None]], axis=-1)
    return out.reshape(source.shape)
