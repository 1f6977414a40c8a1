"""Spatial control: which style applies where, from a mask, a label image or a mask per style.

One reading rule for every command: a mask file is gray (8- or 16-bit values are labels,
nonzero is "applies") or a palette PNG (its indices are the labels, not its colours); an RGB
file is accepted only when it is gray in all three channels. A mask must have the shape of
the image it controls: it is never stretched.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .errors import ImageError
from .image_reading import decode_image
from .images import resize_to, to_unit_float

__all__ = ["read_mask", "style_masks"]


def _shape_text(shape: Sequence[int]) -> str:
    return f"{shape[1]}×{shape[0]}"


def read_mask(
    path: str | os.PathLike, *, shape: tuple[int, int] | None = None, max_pixels: int | None = None
) -> np.ndarray:
    """Read a mask or label image file as one ``H×W`` plane; refuse it unless it is ``shape``.

    Palette PNGs give their indices, gray images their values (integers stay integers, for
    labels), gray+alpha its gray. RGB(A) with colours is refused: colours are not labels.
    """
    mask = decode_image(path, max_pixels=max_pixels, labels=True)
    if mask.ndim == 3 and mask.shape[-1] in (2, 3, 4):
        color = mask[..., :3] if mask.shape[-1] >= 3 else mask[..., :1]
        if not (color == color[..., :1]).all():
            raise ImageError(
                f"mask {path} is a colour image; save the labels as a gray or palette PNG "
                "(value or palette index = label, 0 = none)"
            )
        mask = color[..., 0]
    if mask.ndim != 2:
        raise ImageError(f"mask {path} has shape {mask.shape}; a mask is one H×W plane")
    if shape is not None and tuple(mask.shape) != tuple(shape[:2]):
        raise ImageError(
            f"mask {path} is {_shape_text(mask.shape)} but the image it controls is "
            f"{_shape_text(shape)}; give a mask of the same size"
        )
    return mask


def _plane(mask: np.ndarray, what: str, shape: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ImageError(f"{what} has shape {mask.shape}; a mask is H×W (or an image whose first channel is used)")
    # The content may have been resized to the run's size, so only the aspect can be checked:
    # a mask of another aspect would be stretched over the image.
    h, w = mask.shape
    scale = max(shape) / max(h, w)
    if abs(round(h * scale) - shape[0]) > 1 or abs(round(w * scale) - shape[1]) > 1:
        raise ImageError(
            f"{what} is {_shape_text(mask.shape)}, another aspect than the image "
            f"({_shape_text(shape)}); give a mask of the content's size"
        )
    return mask


def _label_regions(plane: np.ndarray, styles: int) -> list[np.ndarray]:
    extra = sorted(int(v) for v in np.unique(plane) if not 0 <= v <= styles)
    if extra:
        listed = ", ".join(map(str, extra[:8])) + (", …" if len(extra) > 8 else "")
        raise ImageError(
            f"the label image has labels {listed} but there are {styles} style images "
            f"(labels 1-{styles}, 0 = no style); add style images or relabel"
        )
    return [(plane == label).astype(np.float32) for label in range(1, styles + 1)]


def style_masks(
    mask: np.ndarray | Sequence[np.ndarray] | None, styles: int, shape: tuple[int, int]
) -> list[np.ndarray] | None:
    """One float mask in [0, 1] per style image, at ``shape``; ``None`` when there is no mask.

    ``mask`` is a mask for the single style (nonzero, or a float weight, is where it applies),
    an integer label image for several styles (label ``i`` is style ``i``'s region, counting
    from 1; 0 is no style; other labels are refused), or a sequence with one mask per style.
    Each must have the aspect of ``shape`` (they are resized, never stretched).
    """
    if mask is None:
        return None
    if isinstance(mask, (list, tuple)):
        if len(mask) != styles:
            raise ImageError(f"{len(mask)} masks for {styles} style image(s): give one mask per style")
        planes = [_plane(m, f"mask {i}", shape) for i, m in enumerate(mask)]
        unit = [np.asarray(p, np.float32) if p.dtype == bool else to_unit_float(p, f"mask {i}") for i, p in enumerate(planes)]
        unit = [(u > 0).astype(np.float32) if planes[i].dtype.kind in "iu" else u for i, u in enumerate(unit)]
    else:
        plane = _plane(mask, "mask", shape)
        if styles == 1:
            unit = [(plane > 0).astype(np.float32) if plane.dtype.kind in "biu" else to_unit_float(plane, "mask")]
        elif plane.dtype.kind in "iu":
            unit = _label_regions(plane, styles)
        else:
            raise ImageError(
                f"one {plane.dtype} mask for {styles} style images: pass an integer label image "
                "(label i = style i) or a list of masks"
            )
    for index, region in enumerate(unit):
        if not region.any():
            raise ImageError(f"the mask of style image {index} is empty: no pixel would take that style")
    return [resize_to(region, shape) for region in unit]
