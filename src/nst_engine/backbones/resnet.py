"""ResNet-50 (He et al. 2016) as a style-transfer backbone, as seed 002 explores.

Layer map (torchvision's module names): ``conv1``, ``bn1``, ``relu`` (stem, 1/2 resolution),
``maxpool``, ``layer1`` (1/4, 256 channels), ``layer2`` (1/8, 512), ``layer3`` (1/16, 1024),
``layer4`` (1/32, 2048). Defaults: content ``layer2``; style ``relu, layer1, layer2, layer3``.
ResNet's deep layers are coarse and its activations sparse, so it weighs structure more and
fine texture less than VGG; ``layer4`` is addressable but rarely useful at image sizes < 1k.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torchvision
from torch import nn

from .base import SequentialBackbone
from .vgg import IMAGENET_MEAN, IMAGENET_STD, Sha256Option, WeightsOption
from .weights import cached_or_downloaded, load_state_dict, random_weights
from ..errors import WeightsUnavailableError

__all__ = ["ResNet", "resnet50"]

_PARTS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


class ResNet(SequentialBackbone):
    """ResNet-50's convolutional trunk, named by stage, ImageNet-normalised inside."""

    content_layers = ("layer2",)
    style_layers = ("relu", "layer1", "layer2", "layer3")

    def __init__(self, *, weights: str, sha256: str | None, download: bool) -> None:
        with random_weights():  # replaced below unless weights="random"
            model = torchvision.models.resnet50(weights=None)
        info = {"arch": "resnet50", "weights": weights}
        if weights != "random":
            url = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
            path = cached_or_downloaded(url, what="ResNet-50", download=download) if weights == "imagenet" else Path(weights)
            state, digest = load_state_dict(path, sha256=sha256)
            missing, unexpected = model.load_state_dict(state, strict=False)
            trunk_missing = [k for k in missing if not k.startswith("fc.")]
            if trunk_missing:
                raise WeightsUnavailableError(
                    f"{path} does not fit ResNet-50 (missing {trunk_missing[:3]}); pass a torchvision resnet50 state dict"
                )
            info.update(weights_file=str(path), weights_sha256=digest)
        model.relu = nn.ReLU(inplace=False)  # bn1's output may itself be a requested layer
        body = OrderedDict((name, getattr(model, name)) for name in _PARTS)
        super().__init__(body, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        self.info = info
        self.freeze()


def resnet50(*, weights: WeightsOption = "imagenet", sha256: Sha256Option = None, download: bool = True) -> ResNet:
    """ResNet-50 with ImageNet weights (seed 002's alternative backbone).

    Parameters
    ----------
    download
        Download the weights into the torch hub cache when they are missing (needs internet).
    """
    return ResNet(weights=weights, sha256=sha256, download=download)
