"""Per-channel histogram matching: exact CDF matching of each channel's values."""

from __future__ import annotations

from functools import partial

import numpy as np

from ._io import Pair, check_choice, recolor
from .spaces import SPACES, Space, from_space, to_space

__all__ = ["histogram", "match_values", "LEVELS"]

#: Levels on which values are ranked: a counting sort on 2^16 levels is measured ~8x
#: faster than an exact argsort at 16 M values and exact for 8- and 16-bit images.
LEVELS = 1 << 16


def histogram(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    space: Space = "rgb",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Match each channel's histogram of ``source`` to ``reference`` (exact CDF matching).

    Every source value goes to the reference quantile of its own (mid-)rank: equal values
    stay equal, and on images of equal size the sorted channels become those of the
    reference exactly when no two source values share one of the 65536 ranking levels
    (always for 16-bit data). This is the classical histogram specification (e.g. Gonzalez
    & Woods, "Digital Image Processing"), the "histogram matching" of the seed paper.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    space
        Where the channels are matched: ``"rgb"``, ``"lab-alpha-beta"`` or ``"cielab"``.
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose histograms count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    check_choice("space", space, SPACES)
    return recolor(source, reference, source_mask, reference_mask, partial(_histogram, space=space))


def _histogram(pair: Pair, *, space: Space) -> np.ndarray:
    x = to_space(pair.source, space)
    ref = to_space(pair.reference, space)
    flat = x.reshape(-1, 3)
    select = pair.select_flat()
    # RGB's own range keeps 8- and 16-bit values on exact levels; other spaces use the data's.
    value_range = (0.0, 1.0) if space == "rgb" else None
    out = np.empty(flat.shape, dtype=np.float32)
    for c in range(3):
        out[:, c] = match_values(flat[:, c], ref[:, c], select=select, value_range=value_range)
    return from_space(out.reshape(x.shape), space)


def match_values(
    values: np.ndarray,
    reference: np.ndarray,
    *,
    select: np.ndarray | None = None,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Map 1-D ``values`` so that their distribution becomes that of ``reference``.

    Values are ranked on :data:`LEVELS` levels over ``value_range`` (default: their own
    range): exact for 8- and 16-bit data on [0, 1], within 1/65535 of the range otherwise.
    A level's quantile is its mid-rank among the ``select``-ed values, so equal values stay
    equal (a level without selected values sits halfway between its neighbours' ranks); the
    output is the reference's quantile there, interpolated between sorted reference values.
    """
    values = np.asarray(values, dtype=np.float32)
    if value_range is None:
        value_range = (float(values.min()), float(values.max()))
    low, high = value_range
    scale = (LEVELS - 1) / (high - low) if high > low else 0.0
    levels = values - np.float32(low)
    levels *= np.float32(scale)
    levels += np.float32(0.5)
    np.clip(levels, 0, LEVELS - 1, out=levels)
    levels = levels.astype(np.intp)
    counted = levels if select is None else levels[select]
    counts = np.bincount(counted, minlength=LEVELS)
    before = np.cumsum(counts) - counts
    total = len(counted)
    rank = np.clip(before + (counts - 1) / 2.0, 0.0, total - 1)
    quantile = rank / (total - 1) if total > 1 else np.full(LEVELS, 0.5)
    table = _quantile_sorted(np.sort(np.asarray(reference, dtype=np.float32)), quantile)
    return table.take(levels)


def _quantile_sorted(ordered: np.ndarray, quantile: np.ndarray) -> np.ndarray:
    position = quantile * (ordered.size - 1)
    low = np.minimum(position.astype(np.intp), ordered.size - 1)
    high = np.minimum(low + 1, ordered.size - 1)
    frac = position - low
    return (ordered[low] + frac * (ordered[high] - ordered[low])).astype(np.float32)
