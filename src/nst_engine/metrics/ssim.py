"""Structural similarity (SSIM) of two images' luminance: how much structure survived."""

from __future__ import annotations

from typing import Literal

import numpy as np
from skimage.metrics import structural_similarity

from nst_engine.color.spaces import LUMA
from nst_engine.errors import ImageError
from nst_engine.images import split_image

__all__ = ["ssim"]


def ssim(
    a: np.ndarray, b: np.ndarray, *, channel: Literal["luminance", "rgb"] = "luminance"
) -> float:
    """SSIM of ``a`` and ``b`` (Wang et al. 2004, "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP) via
    :func:`skimage.metrics.structural_similarity`.

    ``channel="luminance"`` compares Rec.601 luma (``0.299 R + 0.587 G + 0.114 B``), the
    structure a color transfer should keep while it changes the colors; ``"rgb"`` averages
    SSIM over R, G and B. ``data_range=1`` and skimage's defaults (7×7 uniform window,
    K1 = 0.01, K2 = 0.03); images smaller than 7 pixels use the largest odd window that fits.

    Parameters
    ----------
    a, b
        Images of equal height and width (gray, RGB or RGBA; any unsigned or float dtype,
        floats in [0, 1]). Alpha is ignored.
    channel
        ``"luminance"`` or ``"rgb"``.

    Returns
    -------
    float
        1 for identical images; lower for less similar structure.
    """
    if channel not in ("luminance", "rgb"):
        raise ImageError(f"channel must be 'luminance' or 'rgb'; got {channel!r}")
    rgb_a, _ = split_image(np.asarray(a), what="a")
    rgb_b, _ = split_image(np.asarray(b), what="b")
    if rgb_a.shape != rgb_b.shape:
        raise ImageError(
            f"a is {rgb_a.shape[:2]} and b is {rgb_b.shape[:2]}; SSIM compares images of one "
            "size, so resize one of them first"
        )
    side = min(rgb_a.shape[:2])
    if side < 3:
        raise ImageError(f"SSIM needs images of at least 3×3 pixels; got {rgb_a.shape[:2]}")
    window = min(7, side if side % 2 else side - 1)
    if channel == "luminance":
        luma_a, luma_b = rgb_a @ LUMA, rgb_b @ LUMA
        return float(structural_similarity(luma_a, luma_b, data_range=1.0, win_size=window))
    return float(
        structural_similarity(rgb_a, rgb_b, data_range=1.0, win_size=window, channel_axis=-1)
    )
