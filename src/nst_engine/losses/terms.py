"""Loss terms as registry entries: each knows its role, its layers and how to make its target.

A term's ``role`` says which image its target comes from: ``"content"``, ``"style"``, or
``"image"`` (a regulariser on the image itself, no target). The pipeline computes targets once,
without gradients, through :meth:`Loss.prepare`, then calls the term every step.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Mapping

import torch

from . import functional as LF

__all__ = ["Loss", "LayerLoss", "ContentLoss", "GramLoss", "MeanStdLoss", "TotalVariationLoss"]

Layers = Annotated[
    tuple[str, ...] | None, {"tooltip": "backbone layers, comma-separated (default: the backbone's)"}
]
LayerWeights = Annotated[
    tuple[float, ...] | None, {"tooltip": "one weight per layer (default: equal, summing to 1)"}
]


class Loss:
    """Base class of loss terms. Subclasses set ``role`` and implement the two methods."""

    role: ClassVar[str] = "image"
    layers: tuple[str, ...] = ()

    def resolve_layers(self, backbone: Any) -> tuple[str, ...]:
        """The layers this term reads, defaulting to the backbone's layers for its role."""
        return ()

    def prepare(self, features: Mapping[str, torch.Tensor]) -> Any:
        """The target, from the role image's features; called once, under ``no_grad``."""
        return None

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        raise NotImplementedError


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

    def statistic(self, features: torch.Tensor) -> Any:
        return features

    def compare(self, statistic: Any, target: Any) -> torch.Tensor:
        raise NotImplementedError

    def prepare(self, features: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        return {layer: self.statistic(features[layer]) for layer in self.layers}

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        terms = (
            weight * self.compare(self.statistic(features[layer]), target[layer])
            for layer, weight in zip(self.layers, self.layer_weights)
        )
        return sum(terms)


class ContentLoss(LayerLoss):
    """Feature reconstruction (Gatys et al. 2016): mean squared difference of activations."""

    role = "content"

    def compare(self, statistic: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return LF.content_loss(statistic, target)


class GramLoss(LayerLoss):
    """Gram-matrix style loss (Gatys et al. 2016) with the ``1/(4N²M²)`` normalisation."""

    role = "style"

    def statistic(self, features: torch.Tensor) -> torch.Tensor:
        return LF.gram_matrix(features)

    def compare(self, statistic: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return LF.gram_loss(statistic, target)


class MeanStdLoss(LayerLoss):
    """Feature mean and std per channel (Li et al. 2017, "Demystifying neural style transfer")."""

    role = "style"

    def statistic(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return LF.mean_std(features)

    def compare(self, statistic: Any, target: Any) -> torch.Tensor:
        return LF.mean_std_loss(statistic, target)


class TotalVariationLoss(Loss):
    """Total variation of the image (Mahendran & Vedaldi 2015): suppresses high-frequency noise."""

    role = "image"

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        return LF.total_variation(image)
