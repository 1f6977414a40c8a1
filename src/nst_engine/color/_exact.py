"""A strict order of an image's pixels for exact histogram specification.

D. Coltuc, P. Bolon and J.-M. Chassery, "Exact histogram specification", IEEE Transactions
on Image Processing 15(5), 2006: an 8-bit image has at most 256 values, so ranking by value
alone keeps every flat area at one output value and the matched histogram stays as lumpy
as the source's. Breaking ties by the means of growing neighbourhoods orders nearly every
pixel strictly (the paper's K = 6 filters; here the value and five uniform means), so each
pixel can take its own quantile of the reference.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

__all__ = ["exact_order", "TIE_BREAK_SIZES"]

#: Side lengths of the uniform filters whose means break ties, in order of precedence.
TIE_BREAK_SIZES = (3, 5, 7, 9, 11)


def exact_order(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices that sort ``H×W`` ``plane`` by value, ties broken by local means, and
    which sorted pixels still tie with the one before them.

    Pixels tied in every key (inside an area flat over 11×11 pixels, or a constant image)
    have no order: callers give them one value, so that equal neighbourhoods stay equal.
    """
    plane = np.asarray(plane, dtype=np.float32)
    keys = [plane.ravel()] + [uniform_filter(plane, size=size, mode="reflect").ravel()
                              for size in TIE_BREAK_SIZES]
    # np.lexsort sorts by its last key first.
    order = np.lexsort(keys[::-1])
    tied = np.zeros(order.size, dtype=bool)
    tied[1:] = True
    for key in keys:
        ordered = key[order]
        tied[1:] &= ordered[1:] == ordered[:-1]
    return order, tied
