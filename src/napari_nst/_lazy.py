"""Large and multiscale layers: planes read in the worker thread, at the size a run needs.

A layer whose data is not a numpy array (dask, zarr) or that is multiscale is captured as
:class:`LazyLevels`, its pyramid as dask arrays with nothing read, so making a job on the main
thread costs no pixel. The worker then reads a plane with :func:`read_plane` at the run's size:
from the smallest pyramid level at least that large, area-averaged a few chunks at a time by
the engine's :func:`nst_engine.large_reading.read_reduced`, so memory holds the result and those
chunks, never the full-resolution plane. A run at full size reads the whole plane (the engine
needs every pixel then). :func:`pyramid` builds a multiscale result's levels. :func:`read_nearest`
reads a label mask at the run's size, the nearest label of each pixel (label ids never blend).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nst_engine.large_reading import LazyImage, read_reduced

from ._layers import layer_data, leading_axes, output_hw, plane_of, to_unit, unit_note

__all__ = [
    "PREVIEW_FIT_MAX",
    "MULTISCALE_ABOVE",
    "PYRAMID_TOP",
    "LazyLevels",
    "LazyPlane",
    "is_lazy",
    "lazy_levels",
    "capture_plane",
    "plane_note",
    "read_plane",
    "read_style",
    "read_nearest",
    "style_side",
    "pyramid",
    "halved_hw",
]

#: Results up to this longer side get previews resized to their shape; above it a preview stays
#: at the current scale's shape, halved down to at most this side (docs/napari.md, "Large and
#: multiscale layers": an 8192² preview costs the main thread 0.2-0.6 s, resizing one 20 s).
PREVIEW_FIT_MAX = 2048
#: Results with a longer side above this many pixels come back as a multiscale layer.
MULTISCALE_ABOVE = 4096
#: A multiscale result halves until its coarsest level's longer side is at most this.
PYRAMID_TOP = 512
#: Rows and columns of a dask chunk read at once: small stored chunks are merged up to it.
_CHUNK = 1024


@dataclass(frozen=True)
class LazyLevels:
    """A lazy or multiscale layer's data, unread: its levels as dask arrays, full resolution first.

    ``lead`` is the number of stack axes before each plane (``H×W`` or ``H×W×C``).
    """

    name: str
    levels: tuple[Any, ...] = field(repr=False)
    lead: int = 0

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.levels[0].shape)

    @property
    def multiscale(self) -> bool:
        return len(self.levels) > 1


@dataclass(frozen=True)
class LazyPlane:
    """One plane of a lazy layer (a style, say) with its contrast limits, read by :func:`read_style`."""

    source: LazyLevels
    index: tuple[int, ...]
    limits: tuple[float, float]

    @property
    def hw(self) -> tuple[int, int]:
        lead = self.source.lead
        return tuple(self.source.shape[lead : lead + 2])


def is_lazy(layer: Any) -> bool:
    """Whether reading ``layer``'s plane should wait for the worker: multiscale, or not numpy in memory."""
    return bool(getattr(layer, "multiscale", False)) or not isinstance(layer_data(layer), np.ndarray)


def _as_dask(array: Any, lead: int, rgb: bool) -> Any:
    """``array`` as dask (nothing read), one chunk per plane of a stack, channels in one chunk,
    and plane chunks of about :data:`_CHUNK` a side (a zarr's 64² tiles would be 16k tasks at 8k²)."""
    import dask.array as da

    if not isinstance(array, da.Array):
        stored = getattr(array, "chunks", None)
        ok = isinstance(stored, tuple) and len(stored) == len(array.shape) and all(isinstance(n, int) for n in stored)
        array = da.from_array(array, chunks=stored if ok else "auto")

    def size(stored: int) -> int:
        return max(stored, _CHUNK // stored * stored)

    chunks: dict[int, Any] = {axis: 1 for axis in range(lead)}
    chunks.update({lead: size(array.chunks[lead][0]), lead + 1: size(array.chunks[lead + 1][0])})
    if rgb:
        chunks[lead + 2] = -1
    return array.rechunk(chunks)


def lazy_levels(layer: Any) -> LazyLevels:
    """``layer``'s data as :class:`LazyLevels` (main thread: builds dask graphs, reads nothing)."""
    lead, rgb = leading_axes(layer), bool(getattr(layer, "rgb", False))
    levels = list(layer.data) if getattr(layer, "multiscale", False) else [layer.data]
    return LazyLevels(str(layer.name), tuple(_as_dask(level, lead, rgb) for level in levels), lead)


def capture_plane(layer: Any, index: tuple[int, ...]) -> np.ndarray | LazyPlane:
    """The plane the engine should see (:func:`~napari_nst._layers.to_unit`), or for a lazy layer
    a :class:`LazyPlane` that the worker reads at the size it needs."""
    limits = tuple(float(v) for v in layer.contrast_limits)
    if is_lazy(layer):
        return LazyPlane(lazy_levels(layer), index, limits)
    return to_unit(plane_of(layer_data(layer), index), limits)


def _smallest_level(planes: tuple[Any, ...], hw: tuple[int, int]) -> Any:
    fitting = [p for p in planes if p.shape[0] >= hw[0] and p.shape[1] >= hw[1]]
    return min(fitting, key=lambda p: p.size)


def read_plane(data: Any, index: tuple[int, ...], *, size: int | None) -> tuple[np.ndarray, dict | None]:
    """The plane at ``index`` for a run whose longer side is ``size`` (None: the plane's own).

    ``data`` as it is for numpy (no copy, and None for how it was read); for
    :class:`LazyLevels` the plane reduced to the run's shape from the smallest level at least
    that large, or the full-resolution plane when the run is at full size or larger, and a
    record of how it was read (for the provenance). Worker thread: this reads the pixels.
    """
    if not isinstance(data, LazyLevels):
        return plane_of(data, index), None
    planes = tuple(level[index] if index else level for level in data.levels)
    full = tuple(int(n) for n in planes[0].shape[:2])
    hw = output_hw(full, size)
    if max(hw) >= max(full):
        return np.asarray(planes[0].compute()), {"read": "full resolution", "shape": list(full)}
    level = _smallest_level(planes, hw)
    image = read_reduced(LazyImage(Path(data.name), (level,)), hw)
    return image, {"read": "reduced", "from": list(full), "level": list(level.shape[:2]), "shape": list(hw)}


def style_side(out_hw: tuple[int, int], style_scale: float) -> int:
    """The longest side the engine resizes a style to in a run of ``out_hw``: its finest scale's."""
    return max(1, math.ceil(max(out_hw) * style_scale))


def read_style(style: np.ndarray | LazyPlane, *, side: int | None) -> tuple[np.ndarray, dict | None]:
    """A style (or reference) as the engine should see it, a lazy one read with its longer side
    at ``side`` (None: at full resolution)."""
    if not isinstance(style, LazyPlane):
        return style, None
    raw, how = read_plane(style.source, style.index, size=None if side is None else min(side, max(style.hw)))
    assert how is not None
    how["input_scaling"] = unit_note(raw, style.limits)
    return to_unit(raw, style.limits), how


def _halve(image: np.ndarray) -> np.ndarray:
    """``image`` (``…×H×W×C``) at half its height and width, each pixel the mean of 2×2 (edges repeated)."""
    h, w = image.shape[-3:-1]
    pad = [(0, 0)] * (image.ndim - 3) + [(0, h % 2), (0, w % 2), (0, 0)]
    image = np.pad(image, pad, mode="edge") if h % 2 or w % 2 else image
    # Four strided sums: a third of the time of a reshaped mean over the interleaved axes.
    out = image[..., 0::2, 0::2, :].astype(np.float32)
    out += image[..., 1::2, 0::2, :]
    out += image[..., 0::2, 1::2, :]
    out += image[..., 1::2, 1::2, :]
    out *= 0.25
    return out.astype(image.dtype, copy=False)


def halved_hw(hw: tuple[int, int], top: int) -> tuple[int, int]:
    """The shape :func:`pyramid` halves ``hw`` to until its longer side is at most ``top``."""
    h, w = hw
    while max(h, w) > top and min(h, w) > 1:
        h, w = (h + 1) // 2, (w + 1) // 2
    return h, w


def pyramid(image: np.ndarray, *, levels: int = 1, top: int = PYRAMID_TOP) -> list[np.ndarray]:
    """A multiscale result: ``image`` (``…×H×W×C``) then halves of it, until the coarsest level's
    longer side is at most ``top`` and there are at least ``levels`` (a multiscale content's
    count), never below 1 px."""
    out = [image]
    while (max(out[-1].shape[-3:-1]) > top or len(out) < levels) and min(out[-1].shape[-3:-1]) > 1:
        out.append(_halve(out[-1]))
    return out


def plane_note(layer: Any, index: tuple[int, ...]) -> str:
    """:func:`~napari_nst._layers.scaling_note` of ``layer``'s plane at ``index``, reading no pixel
    of a lazy layer: its dtype decides, but for floats, whose range is known only once read (the
    worker records that in the provenance's ``content_read`` / ``style_read``)."""
    if not is_lazy(layer):
        return unit_note(plane_of(layer_data(layer), index), layer.contrast_limits)
    dtype = np.dtype(layer_data(layer).dtype)
    if np.issubdtype(dtype, np.floating):
        low, high = (float(v) for v in layer.contrast_limits)
        return f"read lazily ({dtype}): as is if in [0, 1], else rescaled from contrast limits [{low:g}, {high:g}]"
    return unit_note(np.zeros((1, 1), dtype), layer.contrast_limits)


def read_nearest(
    source: LazyLevels, index: tuple[int, ...], rows: np.ndarray, cols: np.ndarray, *, step: tuple[float, float]
) -> np.ndarray:
    """The values of ``source``'s plane at ``index`` nearest to level-0 coordinates ``rows``, ``cols``
    (broadcastable arrays), 0 outside the plane: labels read without blending their ids.

    Read from the coarsest level whose pixels are at most ``step`` level-0 pixels (the spacing of
    the coordinates), so a run smaller than a pyramid's base reads a coarse level; of that level,
    only the rows and columns the coordinates pick. Worker thread: this reads the pixels.
    """
    planes = [level[index] if index else level for level in source.levels]
    full = planes[0].shape[:2]
    factors = [(full[0] / p.shape[0], full[1] / p.shape[1]) for p in planes]
    usable = [k for k, f in enumerate(factors) if f[0] <= max(step[0], 1.0) and f[1] <= max(step[1], 1.0)]
    level = max(usable, key=lambda k: factors[k])
    plane, (down, across) = planes[level], factors[level]
    # napari draws pixel i of a level at level-0 coordinate i × its downsample factor.
    at_row = np.floor(np.asarray(rows) / down + 0.5).astype(np.intp)
    at_col = np.floor(np.asarray(cols) / across + 0.5).astype(np.intp)
    row_ok, col_ok = (at_row >= 0) & (at_row < plane.shape[0]), (at_col >= 0) & (at_col < plane.shape[1])
    inside = row_ok & col_ok
    if not inside.any():
        return np.zeros(inside.shape, plane.dtype)
    used_rows, used_cols = np.unique(at_row[row_ok]), np.unique(at_col[col_ok])
    block = np.asarray(plane[used_rows][:, used_cols])
    picked = block[
        np.clip(np.searchsorted(used_rows, at_row), 0, len(used_rows) - 1),
        np.clip(np.searchsorted(used_cols, at_col), 0, len(used_cols) - 1),
    ]
    picked[~inside] = 0
    return picked
