"""Loss terms as registry entries: each knows its role, its layers and how to make its target.

A term's ``role`` says what it compares the image with: ``"content"``, ``"style"`` or
``"image"`` (a regulariser on the image itself, no target). The pipeline computes targets once
per scale, without gradients, through :meth:`Loss.prepare`, which gets the run's
:class:`References` (reference images and their features, computed once and shared), then
calls the term every step with the generated image and its features.

With several style images, the pipeline gives each its own instance of every style term (built
again from its factory and options), with ``reference`` set to ``"style:<i>"``
(:func:`nst_engine.references.style_ref`) and an optional ``mask`` (1×1×H×W in [0, 1]) that limits
where in the generated image the term's statistics are taken; content terms then get the
union of the masks.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Mapping, Protocol

import torch
import torch.nn.functional as F

from . import functional as LF

__all__ = ["References", "TileView", "Loss", "LayerLoss", "ContentLoss", "GramLoss", "MeanStdLoss",
           "TotalVariationLoss"]

Layers = Annotated[
    tuple[str, ...] | None, {"tooltip": "backbone layers, comma-separated (default: the backbone's)"}
]
LayerWeights = Annotated[
    tuple[float, ...] | None, {"tooltip": "one weight per layer (default: equal, summing to 1)"}
]


class References(Protocol):
    """What :meth:`Loss.prepare` may ask of the run's reference images."""

    backbone: Any

    def image(self, name: str) -> torch.Tensor:
        """The reference image ``name`` (see :mod:`nst_engine.references`), 1×3×H×W."""

    def features(self, name: str, layers: tuple[str, ...]) -> Mapping[str, torch.Tensor]:
        """The backbone's activations of that image at ``layers`` (cached)."""


#: What computes a loss's value or target on a whole image, and the forms a tiled run uses instead.
_UNTILED = ("__call__", "statistic", "layer_term", "compare", "prepare")
_TILED = ("tile_sums", "from_sums", "layer_sums", "sums_statistic", "layer_value", "reference_image")


class TileView(Protocol):
    """What :meth:`Loss.tile_sums` sees of one tile of a tiled step (:mod:`nst_engine.tiling`)."""

    image: torch.Tensor  #: the tile's input: its core and the halo around it

    def core(self, layer: str) -> torch.Tensor:
        """The tile's features at ``layer`` over its core (equal to the untiled image's there)."""

    def crop(self, full: torch.Tensor, layer: str) -> torch.Tensor:
        """The core's part of a whole-image map at ``layer``'s resolution (a per-pixel target)."""

    def mask(self, mask: torch.Tensor | None, layer: str) -> torch.Tensor | None:
        """A whole-image mask (1×1×H×W) resized to ``layer``'s resolution, over the core."""

    def image_core(self) -> tuple[slice, slice]:
        """The core's rows and columns within :attr:`image`."""


class Loss:
    """Base class of loss terms. Subclasses set ``role`` and implement ``__call__``.

    A loss that is a function of sums over pixels sets ``tileable`` and implements
    :meth:`tile_sums` and :meth:`from_sums`: a tiled step (:mod:`nst_engine.tiling`) adds the
    tiles' sums and computes the loss, and its gradient, exactly as on the whole image. A
    tiled run refuses a loss that does not say so rather than approximate it.
    """

    role: ClassVar[str] = "image"
    tileable: ClassVar[bool] = False
    layers: tuple[str, ...] = ()
    reference: str | None = None
    mask: torch.Tensor | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass that computes its value or target anew, but not their tiled forms, is
        # no longer what its parent's tiled forms compute: it stops being tileable by itself.
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "tileable" not in own and any(name in own for name in _UNTILED) and not any(name in own for name in _TILED):
            cls.tileable = False

    def resolve_layers(self, backbone: Any) -> tuple[str, ...]:
        """The layers of the generated image this term reads (default: none)."""
        return ()

    def prepare(self, references: References) -> Any:
        """The target; called once per scale, under ``no_grad``."""
        return None

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        raise NotImplementedError

    def tile_sums(self, tile: TileView, target: Any) -> Any:
        """Tensors (in any nesting of dicts and tuples) whose sum over all tiles :meth:`from_sums` turns into the loss."""
        raise NotImplementedError

    def from_sums(self, sums: Any, target: Any) -> torch.Tensor:
        """The loss from the image's sums: equal to ``self(image, features, target)``."""
        raise NotImplementedError


def resize_mask(mask: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor | None:
    """A 1×1×H×W mask at a layer's resolution (area-averaged, so soft at the edges)."""
    if mask is None or mask.shape[-2:] == features.shape[-2:]:
        return mask
    return F.interpolate(mask, size=features.shape[-2:], mode="area" if mask.shape[-1] >= features.shape[-1] else "bilinear")


class LayerLoss(Loss):
    """A weighted sum over layers of ``compare(statistic(features), target)``."""

    def __init__(self, *, layers: Layers = None, layer_weights: LayerWeights = None) -> None:
        if layers is not None and not layers:
            raise ValueError("layers must name at least one layer")
        if layers is not None and layer_weights is not None and len(layers) != len(layer_weights):
            raise ValueError(f"{len(layers)} layers but {len(layer_weights)} layer_weights")
        self.layers = tuple(layers or ())
        self.layer_weights = layer_weights

    def resolve_layers(self, backbone: Any) -> tuple[str, ...]:
        if not self.layers:
            self.layers = tuple(getattr(backbone, f"{self.role}_layers"))
        backbone.check_layers(self.layers)
        if self.layer_weights is None:
            self.layer_weights = (1.0 / len(self.layers),) * len(self.layers)
        elif len(self.layer_weights) != len(self.layers):
            raise ValueError(f"{len(self.layers)} layers but {len(self.layer_weights)} layer_weights")
        return self.layers

    def statistic(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
        return features

    def compare(self, statistic: Any, target: Any) -> torch.Tensor:
        raise NotImplementedError

    def prepare(self, references: References) -> dict[str, Any]:
        features = references.features(self.reference or self.role, self.layers)
        return {layer: self.statistic(features[layer]) for layer in self.layers}

    def layer_term(self, features: torch.Tensor, target: Any, mask: torch.Tensor | None) -> torch.Tensor:
        """One layer's value (``mask`` at the layer's resolution): ``compare(statistic(...), target)``."""
        return self.compare(self.statistic(features, mask), target)

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        terms = (
            weight * self.layer_term(features[layer], target[layer], resize_mask(self.mask, features[layer]))
            for layer, weight in zip(self.layers, self.layer_weights)
        )
        return sum(terms)

    # Tiling. A style loss's target is a statistic of the reference image, which a tiled run
    # computes from the reference's summed tiles (``layer_sums`` without mask or target, then
    # ``sums_statistic``); a ``local_target`` is a feature map, kept whole and cropped per tile.
    local_target: ClassVar[bool] = False

    def reference_image(self, references: References) -> torch.Tensor:
        """The image whose features :meth:`prepare` makes the target of (a tiled run tiles it)."""
        return references.image(self.reference or self.role)

    def layer_sums(self, features: torch.Tensor, mask: torch.Tensor | None, target: Any) -> Any:
        """A core's additive sums at one layer (``target`` cropped to it when local)."""
        raise NotImplementedError

    def sums_statistic(self, sums: Any) -> Any:
        """The statistic of the image the summed ``layer_sums`` came from."""
        raise NotImplementedError

    def layer_value(self, sums: Any, target: Any) -> torch.Tensor:
        """One layer's value from the image's sums: ``layer_term`` computed tile by tile."""
        return self.compare(self.sums_statistic(sums), target)

    def reference_sums(self, tile: TileView) -> dict[str, Any]:
        """The sums a (non-local) target is the statistic of: the reference's, without a mask."""
        return {layer: self.layer_sums(tile.core(layer), None, None) for layer in self.layers}

    def tile_sums(self, tile: TileView, target: Any) -> dict[str, Any]:
        return {
            layer: self.layer_sums(tile.core(layer), tile.mask(self.mask, layer),
                                   tile.crop(target[layer], layer) if self.local_target else None)
            for layer in self.layers
        }

    def from_sums(self, sums: Mapping[str, Any], target: Any) -> torch.Tensor:
        return sum(weight * self.layer_value(sums[layer], target[layer])
                   for layer, weight in zip(self.layers, self.layer_weights))


class ContentLoss(LayerLoss):
    """Feature reconstruction (Gatys et al. 2016): mean squared difference of activations.

    With a ``mask`` (the union of the style masks, set by the pipeline) the mean is over that
    region, as the style terms' statistics are over theirs: the balance between content and
    style inside a region does not depend on how much of the image it covers.
    """

    role = "content"
    tileable = True
    local_target = True

    def layer_term(self, features: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return LF.content_loss(features, target, mask)

    def layer_sums(self, features: torch.Tensor, mask: torch.Tensor | None, target: Any) -> tuple[torch.Tensor, ...]:
        return LF.content_sums(features, target, mask)

    def layer_value(self, sums: tuple[torch.Tensor, ...], target: Any) -> torch.Tensor:
        squared, count = sums
        return squared / count.clamp_min(1e-12)


class GramLoss(LayerLoss):
    """Gram-matrix style loss (Gatys et al. 2016) with the ``1/(4N²M²)`` normalisation."""

    role = "style"
    tileable = True

    def statistic(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return LF.gram_matrix(features, mask)

    def layer_sums(self, features: torch.Tensor, mask: torch.Tensor | None, target: Any) -> tuple[torch.Tensor, ...]:
        return LF.gram_sums(features, mask)

    def sums_statistic(self, sums: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return LF.gram_from_sums(*sums)

    def compare(self, statistic: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return LF.gram_loss(statistic, target)


class MeanStdLoss(LayerLoss):
    """Feature mean and std per channel (Li et al. 2017, "Demystifying neural style transfer")."""

    role = "style"
    tileable = True

    def statistic(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return LF.mean_std(features, mask)

    def layer_sums(self, features: torch.Tensor, mask: torch.Tensor | None, target: Any) -> tuple[torch.Tensor, ...]:
        return LF.moment_sums(features, mask)

    def sums_statistic(self, sums: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        return LF.mean_std_from_sums(*sums)

    def compare(self, statistic: Any, target: Any) -> torch.Tensor:
        return LF.mean_std_loss(statistic, target)


class TotalVariationLoss(Loss):
    """Total variation of the image (Mahendran & Vedaldi 2015): suppresses high-frequency noise."""

    role = "image"
    tileable = True

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        return LF.total_variation(image)

    def tile_sums(self, tile: TileView, target: Any) -> tuple[torch.Tensor, ...]:
        return LF.variation_sums(tile.image, *tile.image_core())

    def from_sums(self, sums: tuple[torch.Tensor, ...], target: Any) -> torch.Tensor:
        dy, ny, dx, nx = sums
        return dy / ny.clamp_min(1) + dx / nx.clamp_min(1)
