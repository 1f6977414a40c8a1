"""Multiscale results: when a result becomes a pyramid, and its levels, built in the worker thread.

A result above :data:`~napari_nst._lazy.MULTISCALE_ABOVE` px a side, or any result of a
multiscale content, comes back as a multiscale layer (docs/napari.md, "Multiscale results"):
napari then uploads only the level and tiles on screen, where assigning an 8192² array costs
the main thread 0.6 s. The workers of Color Transfer, the batches and Fast Style build the
levels with :func:`~napari_nst._lazy.pyramid` here; the main thread only adds the layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _lazy
from ._lazy import LazyLevels, pyramid

__all__ = ["result_levels", "result_pyramid", "multiscale_of", "level_shapes", "levels_record"]


def result_levels(hw: tuple[int, int], content: Any) -> int:
    """How many levels a result of height and width ``hw`` made from ``content`` gets at least:
    0 (one array), or for a large result or a multiscale content 2 and the content's level count."""
    count = len(content.levels) if isinstance(content, LazyLevels) else 1
    if max(hw) <= _lazy.MULTISCALE_ABOVE and count == 1:
        return 0
    return max(2, count)


def result_pyramid(image: np.ndarray, *, levels: int, rgb: bool) -> list[np.ndarray]:
    """``image`` (``…×H×W×C``, or ``…×H×W`` when not ``rgb``) and its halves, at least ``levels``
    of them (worker thread: this computes every level)."""
    if not rgb:
        return [level[..., 0] for level in result_pyramid(image[..., None], levels=levels, rgb=True)]
    return pyramid(image, levels=levels, top=_lazy.PYRAMID_TOP)


def multiscale_of(image: np.ndarray, content: Any, *, lead: int) -> list[np.ndarray] | None:
    """The levels of result ``image`` (``lead`` leading axes, then a gray or RGB plane) made from
    ``content`` when its layer is multiscale (:func:`result_levels`), else None."""
    levels = result_levels(tuple(image.shape[lead : lead + 2]), content)
    return result_pyramid(image, levels=levels, rgb=image.ndim - lead == 3) if levels else None


def level_shapes(hw: tuple[int, int], *, levels: int) -> list[tuple[int, int]]:
    """The planes' heights and widths of :func:`result_pyramid` of an ``hw`` image: a layer made
    before its planes are done (Fast Style) gets its levels at these shapes."""
    shapes = [tuple(hw)]
    while (max(shapes[-1]) > _lazy.PYRAMID_TOP or len(shapes) < levels) and min(shapes[-1]) > 1:
        shapes.append(tuple((n + 1) // 2 for n in shapes[-1]))
    return shapes


def levels_record(data: list[Any], *, rgb: bool) -> list[list[int]]:
    """Each level's height and width, for the provenance's ``napari.multiscale_levels``."""
    return [list(level.shape[-3:-1] if rgb else level.shape[-2:]) for level in data]
