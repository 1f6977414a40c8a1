"""Which scales of a run tile, at what tile size, and what the optimizer may keep then.

``tile="auto"`` (the default) tiles only when the untiled run would not fit in memory: it
takes the largest tile side of :data:`TILE_SIDES` whose estimate fits. A number tiles every
scale with more pixels than that side squared, so coarse scales stay whole; ``None`` never
tiles.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from ..errors import OptionError
from .layout import backbone_layout

__all__ = ["TILE_SIDES", "MIN_TILE", "LBFGS_HISTORY_BYTES", "KEEP_GRAPHS_SHARE", "check_tile", "scale_tiles",
           "capped_history", "choose_tiling"]

#: Tile sides ``"auto"`` tries, largest first: bigger tiles waste less on halos.
TILE_SIDES = (2048, 1536, 1024, 768, 512, 384, 256)
#: Smaller tiles would be mostly halo (VGG-19's deepest style layer reaches 70 px).
MIN_TILE = 64
#: A tiled run's L-BFGS history, two image-sized vectors per remembered step, is capped to
#: this many bytes (but keeps at least :data:`MIN_HISTORY` steps): at 4096² a vector is
#: 201 MB, and the default 100 steps of history would take 40 GB.
LBFGS_HISTORY_BYTES = 2**30
MIN_HISTORY = 3
#: A tiled step keeps tiles' forward graphs for its second pass (saving their recomputation)
#: as long as the run's estimated peak stays within this share of the memory available.
KEEP_GRAPHS_SHARE = 0.5


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


def choose_tiling(tile: int | str | None, tile_graphs: int | None, *, schedule: Any, optimizer: Any,
                  estimate: Callable[[Any, Any], Any], network: Any, objective: Any, auto_checkpointing: bool,
                  checkpoint_pixels: int) -> tuple[Any, Any, Any, str | None]:
    """The run's schedule with its tiles, its optimizer (history capped if it tiles), their
    memory estimate, and why the run cannot tile (``None`` if it can).

    ``estimate(schedule, optimizer)`` is the plan's memory estimate. An explicit ``tile``
    with a loss or backbone that cannot tile is refused; ``"auto"`` tiles only a run whose
    untiled estimate does not fit, at the largest of :data:`TILE_SIDES` that fits. Where no
    side fits with the capped L-BFGS history, fewer steps are remembered, down to one.
    """
    from .objective import untileable

    shapes = schedule.shapes
    found = estimate(schedule, optimizer)
    why_not = untileable(objective)
    sides: tuple[int, ...] = ()
    if isinstance(tile, int):
        if why_not and any(scale_tiles(shapes, tile)):
            raise OptionError(f"cannot tile this run: {why_not}; use tile=None (--tile off)", option="tile")
        sides = (tile,)
    elif tile == "auto" and not found.fits and why_not is None:
        sides = tuple(side for side in TILE_SIDES if side < max(shapes[-1]))

    def tiled_with(side: int, tiled_optimizer: Any) -> tuple[Any, Any]:
        tiled = dataclasses.replace(schedule, tiles=scale_tiles(shapes, side))
        if auto_checkpointing and hasattr(network, "checkpointing"):  # by the largest piece of work now
            network.checkpointing = _largest_work(network, objective, tiled) > checkpoint_pixels
        return tiled, estimate(tiled, tiled_optimizer)

    sides = tuple(side for side in sides if any(scale_tiles(shapes, side)))
    histories = _fewer_pairs(_capped_optimizer(optimizer, shapes[-1])) if sides else []
    # Largest tiles first at the capped history, then, only if no side fits, fewer remembered
    # steps: smaller tiles cost time, a shorter history costs convergence.
    tried = ((h, *tiled_with(side, h)) for h in histories for side in sides)
    fitted = next((candidate for candidate in tried if candidate[2].fits), None)
    if fitted:
        optimizer, schedule, found = fitted
    elif sides:  # the smallest side at the capped history: refused later, with advice
        optimizer = histories[0]
        schedule, found = tiled_with(sides[-1], optimizer)
    if schedule.tiles and found.fits:
        kept = _kept_graphs(tile_graphs, found, network, objective, schedule)
        if kept:
            schedule = dataclasses.replace(schedule, kept_graphs=kept)
            found = estimate(schedule, optimizer)
    return schedule, optimizer, found, why_not


def _tile_counts(network: Any, objective: Any, schedule: Any) -> list[int]:
    return [len(backbone_layout(network, objective.layers, shape, tile).tiles)
            for shape, tile in zip(schedule.shapes, schedule.tiles or ()) if tile]


def _largest_work(network: Any, objective: Any, schedule: Any) -> int:
    """Pixels of the largest image the backbone sees at once: a whole scale, or a tile's input."""
    tiles = schedule.tiles or (None,) * len(schedule.shapes)
    pieces = [backbone_layout(network, objective.layers, shape, tile).largest_input if tile else shape
              for shape, tile in zip(schedule.shapes, tiles)]
    return max(h * w for h, w in pieces)


def _kept_graphs(requested: int | None, estimate: Any, network: Any, objective: Any, schedule: Any) -> int:
    """How many tiles keep their graph between a step's passes: ``requested``, or as many as
    keep the estimated peak within :data:`KEEP_GRAPHS_SHARE` of the memory available."""
    tiles = max(_tile_counts(network, objective, schedule))
    if requested is not None:
        return min(requested, tiles)
    if not estimate.available_bytes or not estimate.tile_graph_bytes:
        return 0
    room = KEEP_GRAPHS_SHARE * estimate.available_bytes - estimate.peak_bytes
    return max(0, min(tiles, int(room // estimate.tile_graph_bytes) + 1))


def _fewer_pairs(optimizer: Any) -> list[Any]:
    """``optimizer`` (a bound entry), then with one remembered step fewer each, down to one."""
    history = optimizer.options.get("history_size")
    if history is None:
        return [optimizer]
    return [dataclasses.replace(optimizer, options={**optimizer.options, "history_size": h})
            for h in range(int(history), 0, -1)]


def _capped_optimizer(optimizer: Any, shape: tuple[int, int]) -> Any:
    """``optimizer`` (a bound entry) with its history capped for a tiled run of final ``shape``."""
    defaults = optimizer.entry.defaults()
    if "history_size" not in defaults:
        return optimizer
    requested = int(optimizer.options.get("history_size", defaults["history_size"]))
    return dataclasses.replace(optimizer, options={**optimizer.options,
                                                   "history_size": capped_history(requested, shape)})
