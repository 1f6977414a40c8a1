"""An objective evaluated tile by tile, with the untiled value and gradient.

Every tileable loss is a function of sums over pixels (:meth:`~nst_engine.losses.Loss.tile_sums`).
A step is two passes over the tiles. Pass 1, without gradients, adds up each term's sums
over the tiles' cores; the losses are computed from these totals and differentiated with
respect to them, giving ``∂L/∂S``. Pass 2 recomputes each tile's sums with gradients and
back-propagates the surrogate ``⟨∂L/∂S, S_tile⟩``, whose gradient with respect to the tile's
pixels is the tile's share of ``∂L/∂image`` (the chain rule through ``S = Σ S_tile``); the
shares add into one image-sized gradient. With the halo covering every layer's reach, each
core's features are the untiled ones, so value and gradient are the untiled run's up to
float rounding: the optimiser sees one image, with no seams. Without kept graphs
(``keep=0``) only one tile's activations are alive at a time; each kept graph trades a
tile's activations for its second forward.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

from ..errors import OptionError
from ..losses.terms import resize_mask
from ..objective import Objective, Term, scalar_value
from ..references import opposite
from .layout import Tile, TileLayout, backbone_layout

__all__ = ["TiledObjective", "untileable"]


def untileable(objective: Objective) -> str | None:
    """Why ``objective`` cannot be tiled exactly, in a sentence; ``None`` if it can."""
    losses = [term.name for term in objective.terms if not term.loss.tileable]
    if losses:
        return (f"loss {', '.join(map(repr, losses))} cannot be tiled exactly (it does not declare its value as "
                "sums over pixels)")
    if objective.layers and objective.backbone.tile_geometry(objective.layers) is None:
        return f"backbone {type(objective.backbone).__name__} does not declare its receptive field"
    return None


def _leaves(tree: Any) -> list[torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return [tree]
    values = tree.values() if isinstance(tree, Mapping) else tree
    return [leaf for value in values for leaf in _leaves(value)]


def _rebuild(tree: Any, leaves: Iterator[torch.Tensor]) -> Any:
    """``tree`` with its tensors replaced, in :func:`_leaves` order, by ``leaves``."""
    if isinstance(tree, torch.Tensor):
        return next(leaves)
    if isinstance(tree, Mapping):
        return {key: _rebuild(value, leaves) for key, value in tree.items()}
    return type(tree)(_rebuild(value, leaves) for value in tree)


def _add(total: Any, more: Any) -> Any:
    if total is None:
        return more
    return _rebuild(total, iter([a + b for a, b in zip(_leaves(total), _leaves(more))]))


class _View:
    """One tile as a loss sees it (the :class:`~nst_engine.losses.terms.TileView` protocol)."""

    def __init__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], tile: Tile,
                 strides: Mapping[str, int], mask_at: Callable[[torch.Tensor, str], torch.Tensor]) -> None:
        self.image, self.features, self.tile = image, features, tile
        self._strides, self._mask_at = strides, mask_at

    def core(self, layer: str) -> torch.Tensor:
        f, s = self.features[layer], self._strides[layer]
        return f[..., self.tile.rows.at_layer(s, f.shape[-2]), self.tile.cols.at_layer(s, f.shape[-1])]

    def crop(self, full: torch.Tensor, layer: str) -> torch.Tensor:
        f, s = self.features[layer], self._strides[layer]
        return full[..., self.tile.rows.global_at_layer(s, f.shape[-2]), self.tile.cols.global_at_layer(s, f.shape[-1])]

    def mask(self, mask: torch.Tensor | None, layer: str) -> torch.Tensor | None:
        return None if mask is None else self.crop(self._mask_at(mask, layer), layer)

    def image_core(self) -> tuple[slice, slice]:
        return self.tile.core


class TiledObjective:
    """``objective`` computed over tiles of about ``tile`` px a side (see the module docstring).

    Its targets and magnitudes are set tile by tile too (:meth:`set_targets`), so no
    reference image's features are ever whole, except the per-pixel targets of content terms.
    """

    def __init__(self, objective: Objective, tile: int, *, keep: int = 0,
                 memory_format: torch.memory_format = torch.contiguous_format) -> None:
        why = untileable(objective)
        if why is not None:
            raise OptionError(f"cannot tile this run: {why}; turn tiling off (tile=None, --tile off) and use a "
                              "size that fits in memory", option="tile")
        self.objective, self.tile, self.memory_format = objective, tile, memory_format
        #: Tiles whose pass-1 graph is kept for pass 2 (see :meth:`value_and_grad`).
        self.keep = keep
        self.backbone, self.layers = objective.backbone, objective.layers
        self.geometry = self.backbone.tile_geometry(self.layers) if self.layers else {}
        self.strides = {layer: g.stride for layer, g in self.geometry.items()}
        self._layouts: dict[tuple[int, int], TileLayout] = {}
        self._shapes: dict[tuple[int, int], dict[str, tuple[int, int]]] = {}
        self._masks: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def layout(self, shape: tuple[int, int]) -> TileLayout:
        """The tiles of an image of ``shape`` (one tile, the whole image, when there are no layers)."""
        shape = tuple(shape)
        if shape not in self._layouts:
            self._layouts[shape] = backbone_layout(self.backbone, self.layers, shape, self.tile)
        return self._layouts[shape]

    def _tiles(self, image: torch.Tensor, *, grad: Callable[[int], bool] = lambda n: False,
               skip: int = 0) -> Iterator[tuple[Tile, torch.Tensor, dict]]:
        """Each tile of ``image`` after the first ``skip``: the tile, its input and its features
        (with gradients where ``grad(n)`` for the ``n``-th tile)."""
        for n, tile in enumerate(self.layout(tuple(image.shape[-2:])).tiles):
            if n < skip:
                continue
            x = image[(..., *tile.outer)].contiguous(memory_format=self.memory_format)
            wanted = grad(n)
            if wanted:
                x.requires_grad_(True)
            with torch.set_grad_enabled(wanted):
                features = self.backbone(x, self.layers) if self.layers else {}
            yield tile, x, features

    def _view(self, tile: Tile, x: torch.Tensor, features: Mapping[str, torch.Tensor],
              shape: tuple[int, int]) -> _View:
        return _View(x, features, tile, self.strides, lambda mask, layer: self._mask_at(mask, layer, shape))

    @torch.no_grad()
    def _mask_at(self, mask: torch.Tensor, layer: str, shape: tuple[int, int]) -> torch.Tensor:
        """``mask`` at ``layer``'s resolution over the whole image (small: one channel), cached."""
        key = (id(mask), layer)
        if key not in self._masks:  # the mask is kept with it: its id cannot be reused meanwhile
            full = self._layer_shapes(shape, mask.device)[layer]
            self._masks[key] = (mask, resize_mask(mask, torch.empty(1, 1, *full, device="meta")))
        return self._masks[key][1]

    @torch.no_grad()
    def _layer_shapes(self, shape: tuple[int, int], device: torch.device) -> dict[str, tuple[int, int]]:
        """Each layer's feature shape for the whole image, from its last tile's features."""
        if shape not in self._shapes:
            last = self.layout(shape).tiles[-1]
            x = torch.zeros(1, 3, *(s.outer_stop - s.outer_start for s in (last.rows, last.cols)), device=device)
            features = self.backbone(x, self.layers)
            self._shapes[shape] = {
                layer: (last.rows.global_at_layer(self.strides[layer], f.shape[-2]).stop,
                        last.cols.global_at_layer(self.strides[layer], f.shape[-1]).stop)
                for layer, f in features.items()
            }
        return self._shapes[shape]

    def _sums(self, image: torch.Tensor, parts: Sequence[tuple[Term, Callable[[_View], Any]]]) -> list[Any]:
        """Each part's sums over ``image``'s tiles (``parts``: a term and what it sums over a tile)."""
        totals: list[Any] = [None] * len(parts)
        shape = tuple(image.shape[-2:])
        for tile, x, features in self._tiles(image):
            view = self._view(tile, x, features, shape)
            for k, (term, sums) in enumerate(parts):
                with term.blamed("computing its sums over a tile"):
                    totals[k] = _add(totals[k], sums(view))
        return totals

    @torch.no_grad()
    def _assemble(self, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The whole image's features at ``layers``, written core by core."""
        shapes = self._layer_shapes(tuple(image.shape[-2:]), image.device)
        out: dict[str, torch.Tensor] = {}
        for tile, x, features in self._tiles(image):
            view = self._view(tile, x, features, tuple(image.shape[-2:]))
            for layer in layers:
                core = view.core(layer)
                if layer not in out:
                    out[layer] = core.new_empty(core.shape[:2] + shapes[layer])
                view.crop(out[layer], layer).copy_(core)
        return out

    @torch.no_grad()
    def set_targets(self, images: Mapping[str, torch.Tensor], masks: Sequence[torch.Tensor | None]) -> None:
        """As :meth:`Objective.set_targets`, tile by tile: targets, then each term's magnitude."""
        objective = self.objective
        references = objective.references(images, masks)
        for term in objective.terms:
            loss = term.loss
            if loss.role == "image":
                term.target = None
                continue
            with term.blamed("preparing its target"):
                reference = loss.reference_image(references)
                if loss.local_target:
                    term.target = self._assemble(reference, loss.layers)
                else:
                    sums = self._sums(reference, [(term, loss.reference_sums)])[0]
                    term.target = {layer: loss.sums_statistic(sums[layer]) for layer in loss.layers}
        for far in {opposite(term.loss.role) for term in objective.terms}:
            group = [term for term in objective.terms if opposite(term.loss.role) == far]
            totals = self._sums(references.image(far), [(term, _sums_of(term)) for term in group])
            for term, sums in zip(group, totals):
                with term.blamed("measuring its reference magnitude"):
                    term.magnitude = max(float(scalar_value(term, term.loss.from_sums(sums, term.target))), 1e-12)
        objective.set_multipliers()

    def value_and_grad(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Total loss, the raw terms (as :class:`Objective` returns them) and ``∂total/∂image``.

        The first :attr:`keep` tiles of pass 1 run with gradients and keep their graphs, so
        pass 2 only back-propagates them; the others are computed again. The result is the
        same either way: it is memory for time.
        """
        objective = self.objective
        terms = objective.terms
        image = image.detach()
        totals: list[Any] = [None] * len(terms)
        kept: list[tuple[Tile, torch.Tensor, list[list[torch.Tensor]]]] = []
        shape = tuple(image.shape[-2:])
        for n, (tile, x, features) in enumerate(self._tiles(image, grad=lambda n: n < self.keep)):
            view = self._view(tile, x, features, shape)
            sums = []
            for k, term in enumerate(terms):
                with term.blamed("computing its sums over a tile"), torch.set_grad_enabled(n < self.keep):
                    part = term.loss.tile_sums(view, term.target)
                totals[k] = _add(totals[k], _rebuild(part, iter([leaf.detach() for leaf in _leaves(part)])))
                sums.append(_leaves(part))
            if n < self.keep:
                kept.append((tile, x, sums))
        leaves = [[leaf.requires_grad_(True) for leaf in _leaves(sums)] for sums in totals]
        values = []
        for term, sums, mine in zip(terms, totals, leaves):
            with term.blamed("computing its value"):
                values.append(scalar_value(term, term.loss.from_sums(_rebuild(sums, iter(mine)), term.target)))
        raw = torch.stack(values)
        total = (raw * objective.multipliers.to(raw)).sum()
        slopes = torch.autograd.grad(total, [leaf for mine in leaves for leaf in mine], allow_unused=True)
        grad = torch.zeros_like(image)

        def add_tile(tile: Tile, x: torch.Tensor, sums: list[list[torch.Tensor]]) -> None:
            slope = iter(slopes)
            parts = [(s * d).sum() for mine in sums for s, d in zip(mine, slope) if d is not None and s.requires_grad]
            if parts:
                (tile_grad,) = torch.autograd.grad(torch.stack(parts).sum(), x)
                grad[(..., *tile.outer)] += tile_grad

        while kept:  # popped, so each kept graph is freed as soon as it is used
            add_tile(*kept.pop())
        for tile, x, features in self._tiles(image, grad=lambda n: True, skip=self.keep):
            view = self._view(tile, x, features, shape)
            add_tile(tile, x, [_leaves(term.loss.tile_sums(view, term.target)) for term in terms])
        return total.detach(), raw.detach(), grad


def _sums_of(term: Term) -> Callable[[_View], Any]:
    """What ``term`` sums over a tile for its value."""
    return lambda view: term.loss.tile_sums(view, term.target)
