"""Guides: extra reference images and weight maps that a caller hands to its loss terms.

Style transfer of one still needs only the content and style images. A video frame also needs
the previous result warped into it and a map of where that warp can be trusted (Ruder et al.
2016); other guided losses will need other maps. ``iter_stylize(guides={...})`` takes them by
name, in the content's pixel grid, and each scale's loss terms read them resized to that
scale through ``references.image(name)``: an image as 1×3×H×W, a map as 1×1×H×W.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .errors import OptionError
from .images import resize_to, to_unit_float
from .references import CONTENT, STYLE, STYLE_AT_CONTENT

__all__ = ["previous_ref", "previous_weight_ref", "check_guides"]

_RESERVED = (CONTENT, STYLE, STYLE_AT_CONTENT)


def previous_ref(offset: int) -> str:
    """The ``offset``-th earlier result a frame is held to (1: the nearest), warped into it: ``"previous:1"``...

    With a long-term loss over frames 1, 2 and 4 back, ``previous:3`` is the one 4 back; in a
    multi-pass run's backward pass, ``previous:1`` is the next frame.
    """
    return f"previous:{offset}"


def previous_weight_ref(offset: int) -> str:
    """Where that warp is reliable, per pixel in [0, 1] (Ruder et al.'s ``c``): ``"previous-weight:1"``..."""
    return f"previous-weight:{offset}"


def check_guides(guides: Mapping[str, Any] | None, content_hw: tuple[int, int],
                 shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Each guide as float32 in [0, 1] at the run's ``shape`` (``H×W×3`` images, ``H×W`` maps).

    A guide must have the content's height and width, as given: it is a per-pixel companion of
    the content and is resized with it, never stretched. Errors name the guide and the fix.
    """
    if guides is None:
        return {}
    if not isinstance(guides, Mapping):
        raise OptionError(f"guides must map names to images; got {type(guides).__name__}", option="guides")
    checked = {}
    for name, guide in guides.items():
        if not isinstance(name, str) or not name or name in _RESERVED or name.startswith("style:"):
            raise OptionError(f"guide name {name!r} is empty or taken by a built-in reference image; "
                              "choose another name", option="guides")
        array = np.asarray(guide)
        what = f"guide {name!r}"
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3)):
            raise OptionError(f"{what} has shape {array.shape}; expected H×W (a map) or H×W×3 (an image)",
                              option="guides")
        if tuple(array.shape[:2]) != tuple(content_hw):
            raise OptionError(f"{what} is {array.shape[1]}×{array.shape[0]} but the content is "
                              f"{content_hw[1]}×{content_hw[0]}: give it in the content's pixel grid",
                              option="guides")
        unit = to_unit_float(array, what)
        checked[name] = resize_to(unit[..., 0] if unit.ndim == 3 and unit.shape[-1] == 1 else unit, shape)
    return checked
