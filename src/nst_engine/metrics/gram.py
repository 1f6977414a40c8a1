"""Gram-matrix distance: how close an image's style statistics are to a style image's."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..plugins import create_backbone
from ..images import resize_max_side, split_image
from ..losses import functional as LF

__all__ = ["gram_distance", "gram_distances"]


def _features(net: Any, image: np.ndarray, layers: tuple[str, ...], size: int | None) -> dict:
    rgb = resize_max_side(split_image(image, what="image")[0], size)
    tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
    return net(tensor, layers)


def gram_distance(
    image: np.ndarray,
    style: np.ndarray,
    *,
    backbone: str = "vgg19",
    backbone_options: Mapping[str, Any] | None = None,
    layers: tuple[str, ...] | None = None,
    size: int | None = 256,
) -> float:
    """Mean over the style layers of Gatys et al.'s ``1/(4N²M²) Σ (G - A)²``.

    The style loss the optimisation minimises, reported as a metric (seed 002's "GMD"): lower
    is closer to the style. Both images are scaled to a longer side of ``size`` pixels first,
    so figures compare across inputs; the backbone and its layers say what "style" means and
    must be reported with the figure. To score several images against one style, use
    :func:`gram_distances`, which builds the backbone and the style's Gram matrices once.
    """
    return gram_distances(
        [image], style, backbone=backbone, backbone_options=backbone_options, layers=layers, size=size
    )[0]


@torch.no_grad()
def gram_distances(
    images: Sequence[np.ndarray],
    style: np.ndarray,
    *,
    backbone: str = "vgg19",
    backbone_options: Mapping[str, Any] | None = None,
    layers: tuple[str, ...] | None = None,
    size: int | None = 256,
) -> list[float]:
    """:func:`gram_distance` of each of ``images`` to ``style``, in order."""
    net = create_backbone(backbone, **dict(backbone_options or {}))
    layers = net.check_layers(layers or net.style_layers)
    style_features = _features(net, style, layers, size)
    targets = {layer: LF.gram_matrix(style_features[layer]) for layer in layers}
    distances = []
    for image in images:
        features = _features(net, image, layers, size)
        values = [LF.gram_loss(LF.gram_matrix(features[layer]), targets[layer]).item() for layer in layers]
        distances.append(float(np.mean(values)))
    return distances
