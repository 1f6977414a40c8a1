"""Which scales of a run tile, at what tile size, and what the optimizer may keep then.

``tile="auto"`` (the default) tiles only when the untiled run would not fit in memory: it
takes the largest tile side of :data:`TILE_SIDES` whose estimate fits. A number tiles every
scale with more pixels than that side squared, so coarse scales stay whole; ``None`` never
tiles.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import OptionError

__all__ = ["TILE_SIDES", "MIN_TILE", "LBFGS_HISTORY_BYTES", "check_tile", "scale_tiles", "capped_history"]

#: Tile sides ``"auto"`` tries, largest first: bigger tiles waste less on halos.
TILE_SIDES = (2048, 1536, 1024, 768, 512, 384, 256)
#: Smaller tiles would be mostly halo (VGG-19's deepest style layer reaches 70 px).
MIN_TILE = 64
#: A tiled run's L-BFGS history, two image-sized vectors per remembered step, is capped to
#: this many bytes (but keeps at least :data:`MIN_HISTORY` steps): at 4096² a vector is
#: 201 MB, and the default 100 steps of history would take 40 GB.
LBFGS_HISTORY_BYTES = 2**30
MIN_HISTORY = 3


def check_tile(tile: Any) -> int | str | None:
    """``"auto"``, ``None`` (never tile) or a tile side of at least :data:`MIN_TILE` px."""
    if tile is None or tile == "auto":
        return tile
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < MIN_TILE:
        raise OptionError(f'tile must be "auto", None (never tile) or a side of at least {MIN_TILE} px; got {tile!r}',
                          option="tile")
    return tile


def scale_tiles(shapes: tuple[tuple[int, int], ...], side: int) -> tuple[int | None, ...]:
    """``side`` for each scale with more pixels than ``side²``, ``None`` (whole) for the others."""
    return tuple(side if h * w > side * side else None for h, w in shapes)


def capped_history(requested: int, shape: tuple[int, int]) -> int:
    """The L-BFGS history a tiled run of final ``shape`` keeps (see :data:`LBFGS_HISTORY_BYTES`)."""
    vector = shape[0] * shape[1] * 3 * 4
    return min(requested, max(MIN_HISTORY, math.floor(LBFGS_HISTORY_BYTES / (2 * vector))))
