"""Shared input/output handling of every color transfer, written once.

A built-in transfer's core only ever sees a :class:`Pair`: the source as float32 ``H×W×3``
in [0, 1] (read-only: it may be the caller's own array) plus the pixels its statistics come
from. :func:`recolor` does the rest of the contract around that core: dtype mapping,
validation, gray and alpha handling, masks, and the way back to the source's dtype and
shape. :func:`recolor_images` is the same for a core that takes whole images, the form
:func:`nst_engine.color.rgb_transfer` offers plugins.

Contract (documented in ``docs/color.md``):

- Integers are read by :func:`nst_engine.images.to_unit_float`, the engine's one rule
  (unsigned by their dtype's range; signed as 8-bit or 16-bit by their values); a signed
  source comes back in its own dtype and range. Floats must already lie in [0, 1].
- Gray ``H×W`` / ``H×W×1`` (and gray + alpha ``H×W×2``) is replicated to RGB for the
  transfer and reduced back with Rec.601 luma, so the output has the source's shape.
- Alpha is returned bit-identical; fully transparent pixels are left out of the statistics
  (unless that would leave no pixel at all and no mask was given).
- Masks (``H×W``, bool or integer: nonzero selects) limit the statistics, never the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nst_engine.errors import ImageError, OptionError
from nst_engine.images import to_unit_float


__all__ = ["Pair", "PixelMap", "ImageCore", "recolor", "recolor_images", "check_choice", "check_range"]

#: A per-pixel result: the recoloured ``n×3`` RGB pixels (unclipped) of a slice of the
#: source's flattened pixels. :func:`recolor` calls it a cache-sized block at a time.
PixelMap = Callable[[slice], np.ndarray]

# Pixels per block of a blockwise pass: its temporaries stay in cache. Whole-image
# temporaries at 4096² are memory-bound and pay page faults on every allocation.
_BLOCK_PIXELS = 1 << 15


@dataclass(frozen=True)
class Pair:
    """What a transfer's core works on.

    Attributes
    ----------
    source
        ``H×W×3`` float32 in [0, 1], read-only: the image to recolour (all of it).
    select
        ``H×W`` bool: the source pixels whose statistics count, or None for all.
    reference
        ``M×3`` float32 in [0, 1]: the reference pixels whose statistics count.
    scratch
        ``H·W×3`` float32 working memory, or None: the output's own buffer, so a core that
        returns a :data:`PixelMap` may keep per-pixel data there as long as each block is
        read before it is handed back (its pages are then touched once, not twice).
    """

    source: np.ndarray
    select: np.ndarray | None
    reference: np.ndarray
    scratch: np.ndarray | None = None

    def select_flat(self) -> np.ndarray | None:
        """``select`` as a flat ``H·W`` bool array (None for all pixels)."""
        return None if self.select is None else self.select.ravel()


#: ``(source_rgb, reference_rgb, source_select, reference_select) -> H×W×3`` float: a core
#: on whole read-only float32 images, selections ``H×W`` bool or None (every pixel).
ImageCore = Callable[
    [np.ndarray, np.ndarray, "np.ndarray | None", "np.ndarray | None"], np.ndarray
]


@dataclass(frozen=True)
class _Image:
    rgb: np.ndarray
    alpha: np.ndarray | None
    opaque: np.ndarray | None
    shape: tuple[int, ...]
    dtype: np.dtype
    top: float | None  # the integer value of 1.0 (None for floats)


def recolor(
    source: np.ndarray,
    reference: np.ndarray,
    source_mask: np.ndarray | None,
    reference_mask: np.ndarray | None,
    core: Callable[[Pair], np.ndarray | PixelMap],
) -> np.ndarray:
    """Run ``core`` on validated float inputs and return its result in ``source``'s form.

    ``core`` returns the recoloured ``H×W×3`` float image, or a :data:`PixelMap` that this
    applies to every source pixel; values outside [0, 1] are clipped.
    """
    src, ref, select, ref_select = _prepare(source, reference, source_mask, reference_mask)
    ref_pixels = ref.rgb.reshape(-1, 3)
    if ref_select is not None:
        ref_pixels = ref_pixels[ref_select.ravel()]
    out = np.empty(src.shape, dtype=src.dtype)
    plain = out.dtype == np.float32 and out.shape == src.rgb.shape
    scratch = out.reshape(-1, 3) if plain else None
    result = core(Pair(src.rgb, select, ref_pixels, scratch))
    return _restore(result, src, out)


def recolor_images(
    source: np.ndarray,
    reference: np.ndarray,
    source_mask: np.ndarray | None,
    reference_mask: np.ndarray | None,
    core: ImageCore,
) -> np.ndarray:
    """:func:`recolor` for an :data:`ImageCore`, whose result must be finite."""
    src, ref, select, ref_select = _prepare(source, reference, source_mask, reference_mask)
    result = np.asarray(core(src.rgb, ref.rgb, select, ref_select))
    if result.shape != src.rgb.shape:
        raise RuntimeError(f"transfer returned shape {result.shape}, expected {src.rgb.shape}")
    if not np.isfinite(result).all():
        raise RuntimeError("transfer returned NaN or Inf values; a result must be finite")
    return _restore(result, src, np.empty(src.shape, dtype=src.dtype))


def _prepare(
    source: np.ndarray,
    reference: np.ndarray,
    source_mask: np.ndarray | None,
    reference_mask: np.ndarray | None,
) -> tuple[_Image, _Image, np.ndarray | None, np.ndarray | None]:
    src = _load(source, "source")
    ref = _load(reference, "reference")
    return src, ref, _selection(source_mask, src, "source_mask"), _selection(reference_mask, ref, "reference_mask")


def _load(image: np.ndarray, name: str) -> _Image:
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4):
        raise ImageError(
            f"{name} has shape {np.shape(image)}; expected H×W (gray), H×W×1, H×W×2 "
            "(gray + alpha), H×W×3 (RGB) or H×W×4 (RGBA). Pass one plane of a stack at a time"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{name} is empty (shape {np.shape(image)}); pass an image with pixels")
    channels = array.shape[-1]
    has_alpha = channels in (2, 4)
    color = array[..., : channels - 1] if has_alpha else array
    rgb = _to_unit(color, name)
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    rgb.flags.writeable = False
    alpha = array[..., -1] if has_alpha else None
    opaque = None if alpha is None else alpha != 0
    return _Image(rgb, alpha, opaque, np.shape(image), array.dtype, _integer_top(color))


def _to_unit(color: np.ndarray, name: str) -> np.ndarray:
    # A float32 image already in [0, 1] is used as it is: at 4096² a copy costs 192 MB.
    # Comparisons with NaN are false, so NaN and infinities take the checked path.
    if color.dtype == np.float32 and color.flags.c_contiguous and color.size:
        if color.min() >= 0.0 and color.max() <= 1.0:
            return color.view()
    return np.ascontiguousarray(to_unit_float(color, what=name), dtype=np.float32)


def _integer_top(color: np.ndarray) -> float | None:
    """The integer that :func:`~nst_engine.images.to_unit_float` read as 1.0 (None for floats)."""
    if color.dtype == bool:
        return 1.0
    if np.issubdtype(color.dtype, np.unsignedinteger):
        return float(np.iinfo(color.dtype).max)
    if np.issubdtype(color.dtype, np.signedinteger):
        return 255.0 if color.max() <= 255 else 65535.0
    return None


def _selection(mask: np.ndarray | None, image: _Image, name: str) -> np.ndarray | None:
    if mask is None:
        if image.opaque is not None and image.opaque.any():
            return image.opaque
        return None
    mask = np.asarray(mask)
    if mask.shape != image.rgb.shape[:2]:
        raise ImageError(
            f"{name} has shape {mask.shape} but the image is {image.rgb.shape[:2]}; "
            "pass an H×W mask of the image's own size"
        )
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise ImageError(
            f"{name} has dtype {mask.dtype}; pass a boolean (or integer label) mask, "
            "e.g. mask > 0.5 for a float one"
        )
    select = mask.astype(bool)
    if not select.any():
        raise ImageError(f"{name} selects no pixel; select at least one or pass None for all")
    if image.opaque is not None:
        select &= image.opaque
        if not select.any():
            raise ImageError(
                f"{name} selects only fully transparent pixels; select some opaque pixels"
            )
    return select


def _restore(result: np.ndarray | PixelMap, src: _Image, out: np.ndarray) -> np.ndarray:
    """Clip, reduce gray, convert to the source dtype and re-attach alpha into ``out``, a
    block of rows at a time: no full-size temporaries, and a pixel map runs on cache-sized
    blocks."""
    height, width, _ = src.rgb.shape
    channels = src.shape[-1] if len(src.shape) == 3 else 1
    color = channels - (src.alpha is not None)
    out = out.reshape(height, width, channels)
    if src.alpha is not None:
        out[..., -1] = src.alpha
    if not callable(result) and np.shape(result) != src.rgb.shape:
        raise RuntimeError(f"transfer returned shape {np.shape(result)}, expected {src.rgb.shape}")
    top_value = src.top
    rows = max(1, _BLOCK_PIXELS // width)
    for top in range(0, height, rows):
        if callable(result):
            pixels = slice(top * width, min(top + rows, height) * width)
            block = np.asarray(result(pixels), dtype=np.float32).reshape(-1, width, 3)
        else:
            block = np.asarray(result[top : top + rows], dtype=np.float32)
        if color == 1:
            from .spaces import LUMA  # here: skimage.color would weigh on every plugin's import

            block = (block @ LUMA)[..., None]
        target = out[top : top + rows, :, :color]
        if top_value is None:
            np.clip(block, 0.0, 1.0, out=target)  # casts to the float dtype on the way
            continue
        block = np.clip(block, 0.0, 1.0)
        block *= np.float32(top_value)
        target[...] = np.rint(block, out=block)
    return out.reshape(src.shape)


def check_choice(name: str, value: object, choices: tuple) -> None:
    """Raise ``OptionError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise OptionError(
            f"option {name!r} must be one of {', '.join(map(repr, choices))}; got {value!r}"
        )


def check_range(name: str, value: int | float, low: float, high: float) -> None:
    """Raise ``OptionError`` unless ``low <= value <= high``."""
    if isinstance(value, bool) or not low <= value <= high:
        raise OptionError(f"option {name!r} must be between {low} and {high}; got {value!r}")
