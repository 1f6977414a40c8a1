"""VGG-16 and VGG-19 feature extractors (Simonyan & Zisserman 2015) as Gatys et al. use them.

Layer names follow the papers: ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}``.
Gatys et al. trained in Caffe, where ReLU runs in place, so their "conv4_2" activation is the
one after the ReLU: our ``relu4_2``. The defaults therefore read ``relu4_2`` for content and
``relu1_1 .. relu5_1`` for style, which is Gatys' setting under unambiguous names.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from ..errors import WeightsUnavailableError
from .base import SequentialBackbone
from .geometry import Window
from .weights import cached_or_downloaded, load_state_dict, random_weights

__all__ = ["vgg16", "vgg19", "VGG", "imagenet_weights_path", "has_imagenet_weights", "WEIGHTS_HINT"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_CONFIGS = {"vgg16": "D", "vgg19": "E"}

Pooling = Literal["max", "avg", "l2"]


class L2Pool2d(nn.Module):
    """Root-mean-square pooling over 2×2 windows (an L2 pooling with a smooth gradient at 0)."""

    window = Window(2, 2)

    def forward(self, x):
        return (F.avg_pool2d(x * x, 2, 2) + 1e-8).sqrt()
WeightsOption = Annotated[
    str,
    {"tooltip": "'imagenet' (torch hub cache, downloaded if possible), 'random' (untrained, always the same: timing and tests) or a file path"},
]
Sha256Option = Annotated[
    str | None, {"tooltip": "expected SHA-256 (or a prefix of >= 8 hex digits) of a weights file"}
]


def _named_layers(features: nn.Sequential, pooling: str) -> "OrderedDict[str, nn.Module]":
    named: "OrderedDict[str, nn.Module]" = OrderedDict()
    block, index = 1, 1
    for module in features:
        if isinstance(module, nn.Conv2d):
            named[f"conv{block}_{index}"] = module
        elif isinstance(module, nn.ReLU):
            # Not in place: the conv activation before it may itself be a requested layer.
            named[f"relu{block}_{index}"] = nn.ReLU(inplace=False)
            index += 1
        elif isinstance(module, nn.MaxPool2d):
            named[f"pool{block}"] = {"avg": nn.AvgPool2d(2, 2), "l2": L2Pool2d()}.get(pooling, module)
            block, index = block + 1, 1
    return named


class VGG(SequentialBackbone):
    """A VGG's convolutional part, named by layer, ImageNet-normalised inside."""

    content_layers = ("relu4_2",)
    style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

    def __init__(self, arch: str, *, weights: str, pooling: str, sha256: str | None, download: bool):
        # Only the convolutional part: torchvision's full model would also build (and
        # randomly initialise) a 120M-parameter classifier that style transfer never uses.
        with random_weights():  # replaced below unless weights="random"
            features = make_layers(cfgs[_CONFIGS[arch]])
        info = {"arch": arch, "pooling": pooling, "weights": weights}
        if weights != "random":
            path = (
                cached_or_downloaded(_imagenet_url(arch), what=arch.upper(), download=download)
                if weights == "imagenet"
                else Path(weights)
            )
            state, digest = load_state_dict(path, sha256=sha256)
            _load_features(features, state, path)
            info.update(weights_file=str(path), weights_sha256=digest)
        super().__init__(_named_layers(features, pooling), mean=IMAGENET_MEAN, std=IMAGENET_STD)
        self.info = info
        self.freeze()


#: One line on how to get the ImageNet weights, for a UI that falls back to random-multiscale.
WEIGHTS_HINT = (
    "VGG weights are not installed, so random-multiscale (weight-free) is the default. For VGG, copy "
    "{file} into {folder} (see the README, 'VGG weights')"
)


def imagenet_weights_path(arch: str = "vgg19") -> Path:
    """Where the torch hub cache keeps ``arch``'s ImageNet weights (the file may not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(_imagenet_url(arch)).name


def has_imagenet_weights(arch: str = "vgg19") -> bool:
    """Whether ``arch``'s ImageNet weights are in the torch hub cache, so it works offline.

    A UI uses this to choose its default backbone without trying (and failing) a download.
    """
    return imagenet_weights_path(arch).is_file()


def _imagenet_url(arch: str) -> str:
    enum = getattr(torchvision.models, f"{arch.upper()}_Weights")
    return enum.IMAGENET1K_V1.url


def _load_features(features: nn.Sequential, state: dict, path: Path) -> None:
    """Load the ``features.*`` tensors of a full model's (or a bare features') state dict."""
    if any(key.startswith("features.") for key in state):
        state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    try:
        missing, unexpected = features.load_state_dict(state, strict=False)
        mismatch = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected else ""
    except RuntimeError as exc:
        mismatch = str(exc).splitlines()[-1].strip()
    if mismatch:
        raise WeightsUnavailableError(
            f"{path} does not fit these convolutional layers ({mismatch}); "
            "pass the state dict of the matching torchvision model"
        )


def vgg19(
    *,
    weights: WeightsOption = "imagenet",
    pooling: Pooling = "max",
    sha256: Sha256Option = None,
    download: bool = True,
) -> VGG:
    """VGG-19 with ImageNet weights, the network of Gatys et al. 2016.

    Parameters
    ----------
    pooling
        max (the network's own), avg (Gatys et al.: smoother gradients) or l2 (root mean square).
    download
        Download the weights into the torch hub cache when they are missing (needs internet).
    """
    return VGG("vgg19", weights=weights, pooling=pooling, sha256=sha256, download=download)


def vgg16(
    *,
    weights: WeightsOption = "imagenet",
    pooling: Pooling = "max",
    sha256: Sha256Option = None,
    download: bool = True,
) -> VGG:
    """VGG-16 with ImageNet weights: a little faster than VGG-19, similar results.

    Parameters
    ----------
    pooling
        max (the network's own), avg (Gatys et al.: smoother gradients) or l2 (root mean square).
    download
        Download the weights into the torch hub cache when they are missing (needs internet).
    """
    return VGG("vgg16", weights=weights, pooling=pooling, sha256=sha256, download=download)
