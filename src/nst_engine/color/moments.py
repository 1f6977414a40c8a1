"""Transfers that match per-channel mean and standard deviation: Reinhard, mean-std, luminance."""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np

from ._affine import affine_transfer
from ._io import Pair, PixelMap, check_choice, recolor
from .matching import match_values
from .spaces import SPACES, Space, from_space, to_space

__all__ = ["reinhard", "mean_std", "luminance"]

# A channel whose standard deviation is below this (in the space's units) is treated as
# constant: it is shifted to the reference mean instead of being stretched from nothing.
_STD_FLOOR = 1e-6


def reinhard(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    space: Space = "lab-alpha-beta",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Match per-channel mean and standard deviation in lαβ (Reinhard et al. 2001).

    Reinhard, Ashikhmin, Gooch & Shirley, "Color transfer between images", IEEE CG&A 2001:
    RGB -> LMS -> log10 -> the decorrelating lαβ matrix, then ``(x - μs) σr/σs + μr`` per
    channel and back. ``space="cielab"`` does the same in CIELab, ``"rgb"`` in RGB.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    space
        ``"lab-alpha-beta"`` (the paper's), ``"cielab"`` or ``"rgb"``.
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose statistics count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    check_choice("space", space, SPACES)
    core = partial(affine_transfer, space=space, rule=_match_moments)
    return recolor(source, reference, source_mask, reference_mask, core)


def mean_std(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Match per-channel mean and standard deviation in RGB.

    The baseline Reinhard et al. (2001) improve on by decorrelating first; what
    ``reinhard(space="rgb")`` also does.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose statistics count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    core = partial(affine_transfer, space="rgb", rule=_match_moments)
    return recolor(source, reference, source_mask, reference_mask, core)


def luminance(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    space: Literal["yiq", "cielab"] = "yiq",
    match: Literal["mean-std", "histogram"] = "mean-std",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Give ``source`` the luminance statistics of ``reference`` and keep its own chroma.

    Gatys, Bethge, Hertzmann & Shechtman, "Preserving color in neural artistic style
    transfer", arXiv:1606.05897 (2016): luminance-only transfer in YIQ, where the luminance
    is matched by mean and standard deviation, ``Y' = (Y - μs) σr/σs + μr``. ``match=
    "histogram"`` matches the whole luminance histogram instead; I and Q (or a and b in
    ``space="cielab"``, where the luminance is L) are left as they are.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    space
        ``"yiq"`` (Y is Rec.601 luma, as in the paper) or ``"cielab"`` (L).
    match
        ``"mean-std"`` (the paper's) or ``"histogram"`` (exact CDF matching of Y or L).
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose statistics count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    check_choice("space", space, ("yiq", "cielab"))
    check_choice("match", match, ("mean-std", "histogram"))
    core = partial(_luminance, space=space, match=match)
    return recolor(source, reference, source_mask, reference_mask, core)


def _gain(source_var: np.ndarray, reference_var: np.ndarray) -> np.ndarray:
    source_std = np.sqrt(np.maximum(source_var, 0))
    reference_std = np.sqrt(np.maximum(reference_var, 0))
    ones = np.ones_like(reference_std)
    return np.divide(reference_std, source_std, out=ones, where=source_std > _STD_FLOOR)


def _match_moments(
    source_mean: np.ndarray,
    source_cov: np.ndarray,
    reference_mean: np.ndarray,
    reference_cov: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    return np.diag(_gain(np.diag(source_cov), np.diag(reference_cov))), reference_mean


def _match_first(
    source_mean: np.ndarray,
    source_cov: np.ndarray,
    reference_mean: np.ndarray,
    reference_cov: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Luminance (the first channel) to the reference's mean and std; chroma unchanged."""
    gain = np.ones(3)
    gain[0] = _gain(source_cov[:1, 0], reference_cov[:1, 0])[0]
    return np.diag(gain), np.concatenate([reference_mean[:1], source_mean[1:]])


def _luminance(pair: Pair, *, space: str, match: str) -> np.ndarray | PixelMap:
    if match == "mean-std":
        return affine_transfer(pair, space, _match_first)
    x = to_space(pair.source, space)
    reference = to_space(pair.reference, space)[:, 0]
    matched = match_values(x[..., 0].ravel(), reference, select=pair.select_flat())
    x[..., 0] = matched.reshape(x.shape[:-1])
    return from_space(x, space)
