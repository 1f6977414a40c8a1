"""Spatial control: which style applies where, from a mask, a label image or a mask per style."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ImageError
from .images import resize_to, to_unit_float

__all__ = ["style_masks"]


def _plane(mask: np.ndarray, what: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ImageError(f"{what} has shape {mask.shape}; a mask is H×W (or an image whose first channel is used)")
    return mask


def style_masks(
    mask: np.ndarray | Sequence[np.ndarray] | None, styles: int, shape: tuple[int, int]
) -> list[np.ndarray] | None:
    """One float mask in [0, 1] per style image, at ``shape``; ``None`` when there is no mask.

    ``mask`` is a mask for the single style (nonzero, or a float weight, is where it applies),
    an integer label image for several styles (label ``i`` is style ``i``'s region, counting
    from 1; 0 is no style), or a sequence with one mask per style.
    """
    if mask is None:
        return None
    if isinstance(mask, (list, tuple)):
        if len(mask) != styles:
            raise ImageError(f"{len(mask)} masks for {styles} style image(s): give one mask per style")
        planes = [_plane(m, f"mask {i}") for i, m in enumerate(mask)]
        unit = [np.asarray(p, np.float32) if p.dtype == bool else to_unit_float(p, f"mask {i}") for i, p in enumerate(planes)]
        unit = [(u > 0).astype(np.float32) if planes[i].dtype.kind in "iu" else u for i, u in enumerate(unit)]
    else:
        plane = _plane(mask, "mask")
        if styles == 1:
            unit = [(plane > 0).astype(np.float32) if plane.dtype.kind in "biu" else to_unit_float(plane, "mask")]
        elif plane.dtype.kind in "iu":
            unit = [(plane == label).astype(np.float32) for label in range(1, styles + 1)]
        else:
            raise ImageError(
                f"one {plane.dtype} mask for {styles} style images: pass an integer label image "
                "(label i = style i) or a list of masks"
            )
    for index, region in enumerate(unit):
        if not region.any():
            raise ImageError(f"the mask of style image {index} is empty: no pixel would take that style")
    return [resize_to(region, shape) for region in unit]
