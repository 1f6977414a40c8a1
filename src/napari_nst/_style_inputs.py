"""Checks of the Style Transfer form's inputs before a run: style weights and label masks.

Plain arrays and layers, no Qt: what the form captured is refused here, with the fix, before the engine
would fail on it later. A mask too large to make on the main thread (or a lazy Labels layer) is
captured as a :class:`LazyMask` instead, which the worker makes at the run's size and checks there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from napari.layers import Shapes

from nst_engine.errors import OptionError

from ._layers import world_point_in, labels_to_content, layer_data, leading_axes, mask_plane
from ._lazy import LazyLevels, is_lazy, lazy_levels, read_nearest

__all__ = [
    "parse_style_weights",
    "check_mask",
    "follows_stack",
    "MASK_ON_MAIN_PIXELS",
    "mask_in_worker",
    "LazyMask",
    "capture_mask",
    "mask_fields",
]

#: Content pixels (over all planes a mask is made for) up to which a mask is made on the main
#: thread, at the content's size, and checked before the run starts: at most ~60 ms there
#: (docs/napari.md, "Large and multiscale layers"). Above it the worker makes it at the run's size.
MASK_ON_MAIN_PIXELS = 1024 * 1024


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


def mask_in_worker(mask: Any, plane_hw: tuple[int, int], planes: int) -> bool:
    """Whether ``mask`` must be made in the worker: a lazy or multiscale Labels layer, or more than
    :data:`MASK_ON_MAIN_PIXELS` content pixels to fill (``planes`` planes of ``plane_hw``)."""
    lazy = not isinstance(mask, Shapes) and is_lazy(mask)
    return lazy or planes * plane_hw[0] * plane_hw[1] > MASK_ON_MAIN_PIXELS


@dataclass(frozen=True)
class LazyMask:
    """A Labels or Shapes mask captured on the main thread without reading or filling a pixel.

    The worker makes each plane with :meth:`plane` at ``hw``, the run's size (the content's when
    the run is not smaller): the label under each run pixel's centre, never a blend of label ids.
    """

    name: str
    styles: int
    hw: tuple[int, int]
    # A Labels layer: its levels, and the labels' plane coordinates of run pixel (0, 0) and of one
    # step down and one step right (rows of ``grid``).
    labels: LazyLevels | None = field(default=None, repr=False)
    grid: np.ndarray | None = field(default=None, repr=False)
    # A Shapes layer: each shape's vertices in run pixel coordinates, and the shape types.
    shapes: tuple[tuple[np.ndarray, ...], tuple[str, ...]] | None = field(default=None, repr=False)
    # The Labels plane of a one-mask run; None: each content plane's own.
    index: tuple[int, ...] | None = ()

    def plane(self, index: tuple[int, ...]) -> np.ndarray:
        """The checked mask (:func:`check_mask`) of content plane ``index``. Worker thread."""
        mask = self._shapes() if self.shapes is not None else self._labels(index if self.index is None else self.index)
        return check_mask(mask, self.styles, self.name, at=index if self.index is None else None)

    def _shapes(self) -> np.ndarray:
        vertices, types = self.shapes
        if not vertices:
            return np.zeros(self.hw, np.int32)
        return np.asarray(Shapes(list(vertices), shape_type=list(types)).to_labels(labels_shape=self.hw))

    def _labels(self, index: tuple[int, ...]) -> np.ndarray:
        origin, down, right = self.grid
        rows, cols = np.arange(self.hw[0])[:, None], np.arange(self.hw[1])[None, :]
        # Terms without a step are left out: an unrotated layer keeps 1-D coordinates (no H×W index arrays).
        at = [origin[a] + (down[a] * rows if down[a] else 0) + (right[a] * cols if right[a] else 0) for a in (0, 1)]
        step = (max(abs(down[0]), abs(right[0])), max(abs(down[1]), abs(right[1])))
        return read_nearest(self.labels, index, at[0], at[1], step=step)


def capture_mask(
    mask: Any, content: Any, *, plane_hw: tuple[int, int], hw: tuple[int, int], styles: int,
    index: tuple[int, ...] | None,
) -> LazyMask:
    """``mask`` (a Labels or Shapes layer over ``content``, whose plane is ``plane_hw``) as a
    :class:`LazyMask` made at ``hw``. Main thread: maps a few points through the layers'
    transforms (world coordinates, as :func:`~napari_nst._layers.mask_plane` does), reads no pixel."""
    scale = np.array(plane_hw, float) / np.array(hw, float)  # content pixels per run pixel
    if isinstance(mask, Shapes):
        origin, matrix = _affine(lambda p: _into(content, mask.data_to_world(p), 2), mask.ndim)
        # Content pixel coordinate p is run coordinate (p + 0.5) / scale - 0.5 (pixel centres).
        moved = tuple((np.asarray(v, float) @ matrix.T + origin + 0.5) / scale - 0.5 for v in mask.data)
        return LazyMask(mask.name, styles, hw, shapes=(moved, tuple(mask.shape_type)), index=())
    leading = [0.0] * (content.ndim - 2)
    origin, matrix = _affine(lambda p: _into(mask, content.data_to_world([*leading, *p]), 2), 2)
    down, right = matrix[:, 0] * scale[0], matrix[:, 1] * scale[1]
    start = origin + matrix @ (0.5 * scale - 0.5)  # the centre of run pixel (0, 0)
    # An in-memory layer is indexed as it is: wrapping it in dask would hash all its pixels.
    levels = lazy_levels(mask) if is_lazy(mask) else LazyLevels(mask.name, (layer_data(mask),), leading_axes(mask))
    return LazyMask(mask.name, styles, hw, labels=levels, grid=np.array([start, down, right]), index=index)


def _into(layer: Any, world: Any, last: int) -> np.ndarray:
    """The last ``last`` data coordinates in ``layer`` of a world point."""
    world = np.asarray(world, dtype=float)
    return np.asarray(layer.world_to_data(world_point_in(world, layer.ndim)), dtype=float)[-last:]


def _affine(point: Callable[[np.ndarray], np.ndarray], ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """An affine map of ``ndim`` coordinates (napari's layer transforms are) as its value at 0 and
    its matrix: ``point(p) == origin + matrix @ p``, from ``ndim + 1`` evaluations."""
    origin = point(np.zeros(ndim))
    return origin, np.stack([point(unit) - origin for unit in np.eye(ndim)], axis=1)


def mask_fields(
    layer: Any, content: Any, options: dict[str, Any], *, index: tuple[int, ...],
    indices: tuple[tuple[int, ...], ...] | None, stack_shape: tuple[int, ...], plane_hw: tuple[int, int],
    out_hw: tuple[int, int], styles: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mask of a run (main thread) as ``StyleJob`` fields or ``options["mask"]``, and its
    provenance entries; ``index`` is the Labels plane under the sliders (``()`` for Shapes),
    ``indices`` all planes of an ``All planes`` run (None for one plane).

    Up to :data:`MASK_ON_MAIN_PIXELS` it is made here at the content's size and checked before the
    run starts; a larger or lazy one is captured unread (:func:`capture_mask`), for the worker to
    make at the run's size, or the content's if the run is not smaller.
    """
    follows = indices is not None and follows_stack(layer, stack_shape)
    at = None if follows else index
    if follows:
        plane: Any = "each content plane's own"
    else:
        plane = "shapes rasterised" if isinstance(layer, Shapes) else list(index)
    if mask_in_worker(layer, plane_hw, len(indices) if follows else 1):
        hw = tuple(out_hw) if max(out_hw) < max(plane_hw) else tuple(plane_hw)
        source = capture_mask(layer, content, plane_hw=plane_hw, hw=hw, styles=styles, index=at)
        return {"mask_source": source}, {"mask_plane": plane, "mask_read": {"read": "in the worker", "shape": list(hw)}}
    if not follows:
        options["mask"] = check_mask(mask_plane(layer, content, plane_hw, at), styles, layer.name)
        return {}, {"mask_plane": plane}
    # A copy: painting on during the run must not change the planes still to come.
    stack = np.zeros(stack_shape + plane_hw, dtype=layer_data(layer).dtype)
    for plane_index in indices:
        mask = labels_to_content(layer, content, plane_hw, plane_index)
        stack[plane_index] = check_mask(mask, styles, layer.name, at=plane_index)
    return {"mask_stack": stack}, {"mask_plane": plane}
