"""Multi-scale loss: a loss evaluated on the image at several scales.

Each scale sees the generated and reference images resized by its factor, so the same
backbone layers measure coarser or finer structure: fine detail and large-scale structure
both count. The base loss is any registered loss, with its options.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import torch
import torch.nn.functional as F

from ..plugins import create_loss
from .terms import Loss, References

__all__ = ["MultiScaleLoss"]


class _Scaled:
    """The run's references seen at one scale factor."""

    def __init__(self, references: References, factor: float) -> None:
        self.backbone, self._references, self._factor = references.backbone, references, factor
        self._cache: dict[str, torch.Tensor] = {}

    def image(self, name: str) -> torch.Tensor:
        if name not in self._cache:
            self._cache[name] = _scale(self._references.image(name), self._factor)
        return self._cache[name]

    def features(self, name: str, layers: tuple[str, ...]) -> Mapping[str, torch.Tensor]:
        return self.backbone(self.image(name), layers)


def _scale(image: torch.Tensor, factor: float) -> torch.Tensor:
    if factor == 1.0:
        return image
    out = F.interpolate(image, scale_factor=factor, mode="bilinear", align_corners=False, antialias=factor < 1)
    return out.contiguous(memory_format=torch.channels_last) if image.is_contiguous(memory_format=torch.channels_last) else out


class MultiScaleLoss(Loss):
    """A registered loss averaged over image scales.

    Each instance builds its own ``base``: the pipeline gives every style term its own
    instance, so the reference and mask copied into the base here belong to this term alone.
    """

    def __init__(
        self,
        *,
        loss: Annotated[str, {"tooltip": "the registered loss to evaluate at each scale"}] = "gram",
        factors: Annotated[tuple[float, ...], {"tooltip": "scale factors, e.g. 1,0.5,0.25"}] = (1.0, 0.5),
    ) -> None:
        if not factors or any(not 0 < f <= 4 for f in factors):
            raise ValueError(f"factors must be in (0, 4]; got {factors}")
        if loss == "multiscale":
            raise ValueError("multiscale cannot wrap itself")
        self.base = create_loss(loss)
        self.role = self.base.role
        self.factors = tuple(factors)

    def resolve_layers(self, backbone: Any) -> tuple[str, ...]:
        self.layers = self.base.resolve_layers(backbone)
        return self.layers if 1.0 in self.factors else ()

    def prepare(self, references: References) -> dict[float, Any]:
        self.base.reference, self.base.mask = self.reference, self.mask
        self._backbone = references.backbone
        return {factor: self.base.prepare(_Scaled(references, factor)) for factor in self.factors}

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        total = 0
        for factor in self.factors:
            scaled = _scale(image, factor)
            scaled_features = features if factor == 1.0 else self._backbone(scaled, self.base.layers)
            total = total + self.base(scaled, scaled_features, target[factor])
        return total / len(self.factors)
