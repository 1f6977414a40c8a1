"""Auxiliary content losses: a secondary content term and a content/style blend target.

"Neural style transfer, creating art with deep learning" (the document this project started
from) names them without fixing every detail; our reading, stated so results can be judged:

- **styled-content** (the "secondary content loss", small weight): a second content term at a
  shallower layer than the main one, so fine structure of the content survives the styling.
  Default layer: the backbone's second style layer (``relu2_1`` on VGG).
- **combined-image**: pulls the features of the result towards those of a *combined image*
  that "has partial content and style blended": the content recoloured to the style's palette
  (per-channel mean and std), mixed with the content by ``blend``. Default layers: the
  backbone's content layers. Both use the paper's ``½ Σ (F − F')²`` up to our mean-normalisation.
"""

from __future__ import annotations

from typing import Annotated, Any

import torch

from ..references import CONTENT, STYLE_AT_CONTENT
from .terms import ContentLoss, LayerWeights, Layers, References

__all__ = ["StyledContentLoss", "CombinedImageLoss"]


class StyledContentLoss(ContentLoss):
    """Secondary content loss at a shallow layer, to be given a small weight."""

    def resolve_layers(self, backbone: Any) -> tuple[str, ...]:
        if not self.layers:
            style = tuple(backbone.style_layers)
            self.layers = (style[1] if len(style) > 1 else style[0],)
        return super().resolve_layers(backbone)


class CombinedImageLoss(ContentLoss):
    """Content loss against a content/style blend (the "combined image" loss)."""

    def __init__(
        self,
        *,
        blend: Annotated[float, {"min": 0.0, "max": 1.0, "tooltip": "0: the content; 1: the content in the style's colors"}] = 0.5,
        layers: Layers = None,
        layer_weights: LayerWeights = None,
    ) -> None:
        super().__init__(layers=layers, layer_weights=layer_weights)
        self.blend = blend

    def prepare(self, references: References) -> dict[str, Any]:
        features = references.backbone(self.reference_image(references), self.layers)
        return {layer: self.statistic(features[layer]) for layer in self.layers}

    def reference_image(self, references: References) -> torch.Tensor:
        """The combined image: the content blended with itself recoloured to the style's palette."""
        content, style = references.image(CONTENT), references.image(STYLE_AT_CONTENT)
        dims = (2, 3)
        recoloured = (content - content.mean(dims, keepdim=True)) / content.std(dims, keepdim=True).clamp_min(1e-6)
        recoloured = recoloured * style.std(dims, keepdim=True) + style.mean(dims, keepdim=True)
        return ((1 - self.blend) * content + self.blend * recoloured.clamp(0, 1)).contiguous(
            memory_format=torch.channels_last if content.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        )
