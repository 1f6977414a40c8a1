"""The tiling side of ``check_loss`` and ``check_backbone``: what a tiled run relies on.

A loss that declares ``tileable`` must give, from its tiles' sums, the value and gradient it
gives on the whole image; a backbone that declares ``tile_geometry`` must have features that
depend on no pixel beyond the declared reach. Both are checked on a small image cut into
several tiles, so a wrong declaration fails here, not as a silently different result.
"""

from __future__ import annotations

from typing import Any

from ._common import _attempt, _expect

#: Big enough for several tiles around VGG-19's 80 px halo, small enough to take a second.
_HW = (96, 120)


def check_tiled_loss(label: str, loss: Any, net: Any, images: dict) -> None:
    """``loss`` (built, layers resolved) tiled over ``net`` equals it untiled, value and gradient."""
    import torch

    from ..objective import Objective, Term
    from ..tiling.objective import TiledObjective

    if net.tile_geometry(loss.layers or net.style_layers) is None:
        return  # a backbone that cannot tile: nothing to compare against
    objective = Objective(net, [Term("checked", 1.0, loss, "checked", None, {})])
    sized = {name: torch.nn.functional.interpolate(image, size=_HW, mode="bilinear") for name, image in images.items()}
    _attempt(label, "preparing its target", objective.set_targets, sized, [])
    image = torch.rand(1, 3, *_HW, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    total, _ = objective(image)
    total.backward()
    tiled = TiledObjective(objective, 32)
    _attempt(label, "preparing its target tile by tile", tiled.set_targets, sized, [])
    tiled_total, _, grad = _attempt(label, "computing its tiled value (tile_sums, from_sums)",
                                    tiled.value_and_grad, image.detach())
    scale = float(image.grad.abs().max())
    _expect(abs(float(tiled_total) - total.item()) <= 1e-4 * abs(total.item()) + 1e-7, label,
            f"is {float(tiled_total):.6g} from its tiles' sums but {total.item():.6g} on the whole image: "
            "tile_sums must add up over tiles to the whole image's, or do not set tileable")
    _expect(bool(((grad - image.grad).abs().max() <= 1e-4 * scale + 1e-9)), label,
            "has another gradient tiled than untiled: tile_sums must be computed from the tile's core only")


def check_geometry(label: str, net: Any, layers: tuple[str, ...]) -> None:
    """Each declared layer's features depend on no input pixel beyond its declared reach."""
    import torch

    geometry = _attempt(label, "declaring its tile_geometry", net.tile_geometry, layers)
    if geometry is None:
        return
    _expect(set(geometry) == set(layers), label,
            f"declared tile_geometry for {sorted(geometry)}, asked for {sorted(layers)}: give every layer asked")
    image = torch.rand(1, 3, 160, 160, generator=torch.Generator().manual_seed(2), requires_grad=True)
    features = net(image, layers)
    for layer in layers:
        f, g = features[layer], geometry[layer]
        i = f.shape[-1] // 2
        (grad,) = torch.autograd.grad(f[..., i, i].abs().sum(), image, retain_graph=True)
        cols = torch.nonzero(grad.abs().sum(dim=(0, 1, 2))).flatten()
        if not len(cols):
            continue
        low, high = g.stride * i - g.reach, g.stride * (i + 1) - 1 + g.reach
        _expect(int(cols.min()) >= low and int(cols.max()) <= high, label,
                f"layer {layer!r} reads input columns {int(cols.min())}..{int(cols.max())} for feature {i}, beyond "
                f"the declared stride {g.stride} and reach {g.reach} ({low}..{high}): tiles would differ")
