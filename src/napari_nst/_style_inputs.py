"""Checks of the Style Transfer form's inputs before a run: style weights and label masks.

Plain arrays and layers, no Qt: what the form captured is refused here, with the fix, before the engine
would fail on it later.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Shapes

from nst_engine.errors import OptionError

from ._layers import layer_data

__all__ = ["parse_style_weights", "check_mask", "follows_stack"]


def parse_style_weights(text: str, styles: int) -> list[float] | None:
    """``style weights`` text as ``iter_stylize(style_weights=...)``: None when empty.

    Raises ``OptionError`` naming the problem: a word that is not a number, a negative
    weight, all zero, or not one weight per style image.
    """
    text = (text or "").strip()
    if not text:
        return None
    weights = []
    for part in text.split(","):
        try:
            weight = float(part)
        except ValueError:
            raise OptionError(
                f"style weights: {part.strip()!r} is not a number; give comma-separated numbers such as 3, 1"
            ) from None
        if not np.isfinite(weight) or weight < 0:
            raise OptionError(f"style weights: {part.strip()!r} must be a finite number >= 0")
        weights.append(weight)
    if len(weights) != styles:
        raise OptionError(
            f"style weights: {len(weights)} weight(s) for {styles} style image(s) (the style and the extra "
            "styles); give one per style, or leave it empty for equal weights"
        )
    if not any(weights):
        raise OptionError("style weights: all weights are 0; at least one style needs a weight above 0")
    return weights


def check_mask(mask: np.ndarray, styles: int, name: str, *, at: tuple[int, ...] | None = None) -> np.ndarray:
    """Check a label mask before a run: every style needs a region (the engine would fail later).

    ``at`` is the plane of a stack the mask is for, named in the message.
    """
    where = "here" if at is None else f"at plane {list(at)}"
    if mask.ndim != 2:
        raise OptionError(f"mask {name!r}: its plane has shape {mask.shape}; a mask is a 2-D label image")
    if styles == 1:
        if not mask.any():
            raise OptionError(f"mask {name!r} is empty (all 0) {where}: paint or draw where the style applies")
        return mask
    missing = [label for label in range(1, styles + 1) if not (mask == label).any()]
    if missing:
        raise OptionError(
            f"mask {name!r} has no label {', '.join(map(str, missing))} {where}: with {styles} styles, "
            "label i is the region of style i (the style first, then the extra styles)"
        )
    return mask


def follows_stack(mask: Any, stack_shape: tuple[int, ...]) -> bool:
    """Whether ``mask`` is a Labels layer with one plane per plane of a stack of ``stack_shape``."""
    if isinstance(mask, Shapes):
        return False
    shape = np.shape(layer_data(mask))
    return len(shape) == len(stack_shape) + 2 and tuple(shape[: len(stack_shape)]) == stack_shape
