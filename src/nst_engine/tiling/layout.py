"""Overlapping tiles of an image: cores that partition it, inputs that add the halo.

The cores are aligned to the deepest layer's stride, so every tile's features sit on the
same pooling grid as the whole image's, and a halo of at least every layer's reach makes
the features of each core exactly the untiled ones (:mod:`nst_engine.backbones.geometry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..backbones.geometry import LayerGeometry, aligned

__all__ = ["PIXELS", "Span", "Tile", "TileLayout", "backbone_layout", "layout_tiles"]

#: For a run without layers (TV only): tiles need only one pixel of halo.
PIXELS = LayerGeometry(stride=1, reach=1)


@dataclass(frozen=True)
class Span:
    """One axis of a tile: its core ``[start, stop)`` and its input ``[outer_start, outer_stop)``."""

    start: int
    stop: int
    outer_start: int
    outer_stop: int
    length: int  # the image's: a core that reaches it keeps every feature the image has there

    def at_layer(self, stride: int, features: int) -> slice:
        """The core's features within the tile's ``features`` feature pixels at ``stride``."""
        first = (self.start - self.outer_start) // stride
        last = features if self.stop == self.length else (self.stop - self.outer_start) // stride
        return slice(first, last)

    def global_at_layer(self, stride: int, features: int) -> slice:
        """The core's features within the whole image's, from the tile's ``features`` at ``stride``.

        Tile inputs start on the stride's grid, so the tile's feature ``j`` is the image's
        ``outer_start / stride + j``, also where a pooling rounds the last one down or up.
        """
        last = self.outer_start // stride + features if self.stop == self.length else self.stop // stride
        return slice(self.start // stride, last)


@dataclass(frozen=True)
class Tile:
    """A tile: its rows and columns."""

    rows: Span
    cols: Span

    @property
    def outer(self) -> tuple[slice, slice]:
        """The tile's input (core and halo) as slices of the image's last two axes."""
        return slice(self.rows.outer_start, self.rows.outer_stop), slice(self.cols.outer_start, self.cols.outer_stop)

    @property
    def core(self) -> tuple[slice, slice]:
        """The core within the tile's input."""
        r, c = self.rows, self.cols
        return (slice(r.start - r.outer_start, r.stop - r.outer_start),
                slice(c.start - c.outer_start, c.stop - c.outer_start))


@dataclass(frozen=True)
class TileLayout:
    """The tiles of one image shape for one set of layers."""

    shape: tuple[int, int]
    tiles: tuple[Tile, ...]
    halo: int
    stride: int

    @property
    def largest_input(self) -> tuple[int, int]:
        """The largest tile input: what one tile's backbone work is sized by."""
        return (max(t.rows.outer_stop - t.rows.outer_start for t in self.tiles),
                max(t.cols.outer_stop - t.cols.outer_start for t in self.tiles))


def _spans(length: int, core: int, halo: int, stride: int) -> list[Span]:
    count = math.ceil(length / core)
    step = aligned(math.ceil(length / count), stride)  # even tiles: no sliver at the end
    starts = range(0, length, step)
    return [Span(s, min(s + step, length), max(0, s - halo), min(length, s + step + halo), length) for s in starts]


def layout_tiles(shape: tuple[int, int], tile: int, geometry: Mapping[str, LayerGeometry]) -> TileLayout:
    """Tiles of about ``tile`` × ``tile`` core pixels covering ``shape``, for layers of ``geometry``.

    The halo is the largest reach rounded up to the largest stride, so tile inputs start on
    the pooling grid too.
    """
    if not geometry:
        raise ValueError("no layers to tile for")
    stride = math.lcm(*(g.stride for g in geometry.values()))
    halo = aligned(max(g.reach for g in geometry.values()), stride)
    core = aligned(max(tile, stride), stride)
    rows, cols = (_spans(n, core, halo, stride) for n in shape)
    return TileLayout(tuple(shape), tuple(Tile(r, c) for r in rows for c in cols), halo, stride)


def backbone_layout(backbone: Any, layers: tuple[str, ...], shape: tuple[int, int], tile: int) -> TileLayout:
    """The tiles of ``shape`` for ``backbone``'s ``layers`` (which it must be able to tile)."""
    return layout_tiles(shape, tile, backbone.tile_geometry(layers) if layers else {"image": PIXELS})
