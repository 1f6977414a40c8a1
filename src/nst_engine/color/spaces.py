"""Color spaces the transfers work in: RGB, Reinhard's lαβ, CIELab and YIQ.

Every function takes and returns ``...×3`` float arrays (float32 out); RGB is in [0, 1].
Each space is a pixelwise nonlinear part followed by a 3×3 matrix (:func:`space_parts`), so
that an affine transfer in the space is an affine transfer after the nonlinear part alone.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
from skimage.color import lab2rgb, rgb2lab, rgb2yiq

__all__ = [
    "LUMA",
    "Space",
    "SPACES",
    "LMS_FLOOR",
    "SpaceParts",
    "space_parts",
    "to_space",
    "from_space",
    "rgb_to_lab_alpha_beta",
    "lab_alpha_beta_to_rgb",
    "rgb_to_cielab",
    "cielab_to_rgb",
    "rgb_to_yiq",
    "yiq_to_rgb",
]

#: Rec.601 luma weights (ITU-R BT.601; the Y row of YIQ), on gamma-encoded RGB: the engine's
#: one definition, used to reduce a recoloured gray image, by SSIM and by regrain.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

#: The spaces a transfer's ``space`` option offers.
Space = Literal["rgb", "lab-alpha-beta", "cielab"]
SPACES: tuple[str, ...] = ("rgb", "lab-alpha-beta", "cielab")

# Reinhard et al. 2001, "Color transfer between images", eq. (1) and (4).
_RGB_TO_LMS = np.array(
    [[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]]
)
_LOG_LMS_TO_LAB = np.diag([1 / math.sqrt(3), 1 / math.sqrt(6), 1 / math.sqrt(2)]) @ np.array(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]]
)
# The paper's inverse matrix is this one rounded; the exact inverse makes the round trip exact.
_LMS_TO_RGB = np.linalg.inv(_RGB_TO_LMS)
#: LMS below this is clamped before the logarithm (black has no logarithm); a quarter of a
#: uint8 step, so that black stays a moderate outlier of the log-space statistics.
LMS_FLOOR = 1e-3
# Above every in-gamut LMS value with margin; keeps exp() of wild transfers finite.
_LN_LMS_MAX = math.log(4.0)
# skimage defines YIQ (NTSC); its matrix is read off the basis colors so that the
# conversion stays one float32 matrix product instead of skimage's float64 round trip.
_RGB_TO_YIQ = rgb2yiq(np.eye(3)[None])[0].T


@dataclass(frozen=True)
class SpaceParts:
    """A space as ``matrix @ forward(rgb)``, ``forward`` pixelwise; None is the identity."""

    forward: Callable[[np.ndarray], np.ndarray] | None
    backward: Callable[[np.ndarray], np.ndarray] | None
    matrix: np.ndarray | None

    def linear(self) -> np.ndarray:
        """The linear part as a 3×3 matrix."""
        return np.eye(3) if self.matrix is None else self.matrix


def _times(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    flat = np.asarray(x, dtype=np.float32).reshape(-1, 3)
    # A C-ordered right operand: numpy's matmul skips BLAS for a transposed view.
    return (flat @ np.ascontiguousarray(matrix.T, dtype=np.float32)).reshape(np.shape(x))


def _ln_lms(rgb: np.ndarray) -> np.ndarray:
    lms = _times(rgb, _RGB_TO_LMS)
    np.maximum(lms, np.float32(LMS_FLOOR), out=lms)
    return np.log(lms, out=lms)


def _from_ln_lms(ln_lms: np.ndarray) -> np.ndarray:
    low, high = np.float32(math.log(LMS_FLOOR)), np.float32(_LN_LMS_MAX)
    lms = np.clip(ln_lms, low, high, dtype=np.float32)
    return _times(np.exp(lms, out=lms), _LMS_TO_RGB)


def _cielab(rgb: np.ndarray) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, dtype=np.float32)).astype(np.float32)


def _from_cielab(lab: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # Out-of-gamut colors (negative Z) are expected after a transfer and get clipped.
        warnings.filterwarnings("ignore", message=".*negative Z values.*", category=UserWarning)
        return lab2rgb(np.asarray(lab, dtype=np.float32)).astype(np.float32)


_PARTS = {
    "rgb": SpaceParts(None, None, None),
    # ln instead of log10, the 1/ln 10 folded into the matrix: float32 np.log and np.exp
    # are SIMD and measured 3x faster than np.log10 and 10**x.
    "lab-alpha-beta": SpaceParts(_ln_lms, _from_ln_lms, _LOG_LMS_TO_LAB / math.log(10.0)),
    "cielab": SpaceParts(_cielab, _from_cielab, None),
    "yiq": SpaceParts(None, None, _RGB_TO_YIQ),
}


def space_parts(space: str) -> SpaceParts:
    """The nonlinear and linear parts of ``space`` (one of SPACES or ``"yiq"``)."""
    try:
        return _PARTS[space]
    except KeyError:
        raise ValueError(f"unknown color space {space!r}; use one of {', '.join(_PARTS)}") from None


def to_space(rgb: np.ndarray, space: str) -> np.ndarray:
    """RGB -> ``space``; ``"rgb"`` returns ``rgb`` itself (callers must not write into it)."""
    parts = space_parts(space)
    x = rgb if parts.forward is None else parts.forward(rgb)
    return x if parts.matrix is None else _times(x, parts.matrix)


def from_space(x: np.ndarray, space: str) -> np.ndarray:
    """``space`` -> RGB, the inverse of :func:`to_space` (values may leave [0, 1])."""
    parts = space_parts(space)
    y = x if parts.matrix is None else _times(x, np.linalg.inv(parts.matrix))
    return y if parts.backward is None else parts.backward(y)


def rgb_to_lab_alpha_beta(rgb: np.ndarray) -> np.ndarray:
    """RGB -> lαβ (Reinhard et al. 2001): LMS, log10 (LMS clamped at :data:`LMS_FLOOR`),
    then the decorrelating matrix."""
    return to_space(rgb, "lab-alpha-beta")


def lab_alpha_beta_to_rgb(lab: np.ndarray) -> np.ndarray:
    """lαβ -> RGB (unclipped), the inverse of :func:`rgb_to_lab_alpha_beta`."""
    return from_space(lab, "lab-alpha-beta")


def rgb_to_cielab(rgb: np.ndarray) -> np.ndarray:
    """RGB (sRGB, D65) -> CIELab via :func:`skimage.color.rgb2lab`; L in [0, 100]."""
    return to_space(rgb, "cielab")


def cielab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELab -> RGB via :func:`skimage.color.lab2rgb` (which clips to [0, 1])."""
    return from_space(lab, "cielab")


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    """RGB -> YIQ (NTSC, as :func:`skimage.color.rgb2yiq`); Y is Rec.601 luma."""
    return to_space(rgb, "yiq")


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """YIQ -> RGB (unclipped), the inverse of :func:`rgb_to_yiq`."""
    return from_space(yiq, "yiq")
