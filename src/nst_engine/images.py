"""Array conventions at the engine boundary: float32 ``H×W×3`` in [0, 1], alpha kept aside.

Every function here returns new arrays; the caller's image is never modified.
"""

from __future__ import annotations

import numpy as np

from .errors import ImageError
from .schedule import max_side_shape

__all__ = [
    "split_image",
    "merge_alpha",
    "is_image",
    "max_side_shape",
    "resize_max_side",
    "resize_to",
    "read_only",
    "to_uint",
    "to_unit_float",
]


def is_image(array: object) -> bool:
    """Whether ``array`` is a single 2-D gray, gray+alpha, RGB or RGBA image."""
    return isinstance(array, np.ndarray) and (
        array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4))
    )


def _integer_top(image: np.ndarray, what: str) -> float:
    """The value that maps to 1 for an integer image.

    Unsigned types use their dtype's range. Signed ones (numpy's default ``int64``, int32
    TIFFs) hold 8- or 16-bit data in a wide type: dividing by their range would make them black.
    """
    if np.issubdtype(image.dtype, np.unsignedinteger):
        return float(np.iinfo(image.dtype).max)
    lo, hi = (int(image.min()), int(image.max())) if image.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise ImageError(
            f"{what} is {image.dtype} with values in [{lo}, {hi}]; signed integers are read as "
            "8-bit (0-255) or 16-bit (0-65535). Rescale it to 0-255, or to floats in [0, 1]"
        )
    return 255.0 if hi <= 255 else 65535.0


def to_unit_float(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Any integer, bool or float image -> float32 in [0, 1], channels kept; errors say the fix.

    The engine's one reading rule: unsigned integers by their dtype's range, signed integers
    as 8-bit when their values lie in 0-255 and as 16-bit in 0-65535 (else refused), bool as
    0/1, floats as they are (they must be finite and in [0, 1]).
    """
    image = np.asarray(image)
    if image.dtype == bool:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / np.float32(_integer_top(image, what))
    if np.issubdtype(image.dtype, np.floating):
        out = image.astype(np.float32)
        if not np.isfinite(out).all():
            raise ImageError(f"{what} contains NaN or Inf; replace them (np.nan_to_num) first")
        lo, hi = (float(out.min()), float(out.max())) if out.size else (0.0, 0.0)
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ImageError(
                f"{what} is float with values in [{lo:g}, {hi:g}]; expected [0, 1]. Rescale it "
                "first, e.g. skimage.exposure.rescale_intensity(image, out_range=(0.0, 1.0))"
            )
        return np.clip(out, 0.0, 1.0)
    raise ImageError(f"{what} has dtype {image.dtype}; pass an integer, bool or float image")


def split_image(image: np.ndarray, *, what: str = "image") -> tuple[np.ndarray, np.ndarray | None]:
    """Any dtype, gray / gray+alpha / RGB / RGBA -> (float32 ``H×W×3`` in [0, 1], alpha or None)."""
    image = np.asarray(image)
    if not is_image(image):
        raise ImageError(
            f"{what} has shape {image.shape}; expected H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA). "
            "For a stack, pass one plane at a time"
        )
    if min(image.shape[:2]) < 1:
        raise ImageError(f"{what} is empty (shape {image.shape})")
    unit = to_unit_float(image, what)
    if unit.ndim == 2:
        unit = unit[..., None]
    channels = unit.shape[-1]
    alpha = unit[..., -1].copy() if channels in (2, 4) else None
    color = unit[..., :3] if channels >= 3 else np.repeat(unit[..., :1], 3, axis=-1)
    return np.ascontiguousarray(color, dtype=np.float32), alpha


def merge_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Re-attach ``alpha`` (resized to ``rgb`` if needed); ``rgb`` alone when there is none."""
    if alpha is None:
        return rgb
    if alpha.shape != rgb.shape[:2]:
        alpha = resize_to(alpha, rgb.shape[:2])
    return np.concatenate([rgb, alpha[..., None].astype(rgb.dtype)], axis=-1)


def resize_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Anti-aliased resize of a float image to ``shape`` (rows, columns), float32 out."""
    if tuple(image.shape[:2]) == tuple(shape):
        return image.astype(np.float32, copy=True)
    from skimage.transform import resize  # here: skimage.transform costs a plugin's import ~0.5 s

    out = resize(image, tuple(shape) + image.shape[2:], order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def resize_max_side(image: np.ndarray, size: int | None) -> np.ndarray:
    """Scale so the longer side is ``size`` pixels (aspect kept); ``None`` keeps the size."""
    if size is None:
        return image.astype(np.float32, copy=True)
    return resize_to(image, max_side_shape(image.shape, size))


def read_only(array: np.ndarray | None) -> np.ndarray | None:
    """A read-only view: what the engine hands a plugin, so it cannot write into the caller's data."""
    if array is None:
        return None
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


def to_uint(image: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
    """Float [0, 1] -> unsigned integers, rounded (not truncated) and clipped."""
    top = np.iinfo(dtype).max
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * top), 0, top).astype(dtype)
