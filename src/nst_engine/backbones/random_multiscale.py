"""A weight-free backbone: random filters over an image pyramid.

Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?" (ICLR), show that
a single layer of random filters at several scales, with Gram-matrix statistics, already
synthesises convincing textures. We get their large filters (up to 55 px) cheaply by applying
small random filters to successively halved images: a k-px filter at pyramid level s covers
k * 2**s input pixels. No download, seeded, and a fraction of VGG-19's cost per iteration.
"""

from __future__ import annotations

import math
from typing import Annotated, Collection

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone
from .geometry import LayerGeometry, Window, chain_geometry

#: One pyramid step (:func:`_half`): the 5-tap binomial blur, padded by 2, every second pixel.
_HALF = Window(5, stride=2, padding=2)

__all__ = ["RandomMultiscale", "random_multiscale"]


_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _half(image: torch.Tensor) -> torch.Tensor:
    """One Gaussian-pyramid level: binomial blur, then every second pixel.

    Average pooling would make the gradient piecewise constant over 2**level blocks, which
    shows as a grid in the result; the blur keeps it smooth.
    """
    channels = image.shape[1]
    kernel = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(image)
    kernel = kernel.expand(channels, 1, 5, 5)
    mode = "reflect" if min(image.shape[-2:]) > 2 else "replicate"
    return F.conv2d(F.pad(image, [2, 2, 2, 2], mode=mode), kernel, stride=2, groups=channels)


class RandomMultiscale(Backbone):
    """Random ``kernel_size`` filters at ``scales`` pyramid levels, one ReLU layer each."""

    #: Measured at 256²-1024² (docs/performance.md, "Memory"): the 3-channel 7×7
    #: convolutions' unfolded-input workspaces in backward are large beside their outputs.
    backward_memory = 4.9

    def __init__(self, *, scales: int, channels: int, kernel_size: int, seed: int) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so features stay aligned; got {kernel_size}")
        generator = torch.Generator().manual_seed(seed)
        fan_in = 3 * kernel_size * kernel_size
        self.convs = nn.ModuleList(nn.Conv2d(3, channels, kernel_size) for _ in range(scales))
        with torch.no_grad():
            for conv in self.convs:
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) / math.sqrt(fan_in))
                conv.bias.copy_(torch.randn(channels, generator=generator) * 0.5)
        self.padding = kernel_size // 2
        self.layer_names = tuple(f"scale{i + 1}" for i in range(scales))
        self.content_layers = (self.layer_names[0],)
        self.style_layers = self.layer_names
        self.info = {"scales": scales, "channels": channels, "kernel_size": kernel_size, "seed": seed}
        self.freeze()

    def forward(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        wanted = self.check_layers(layers)
        if not wanted:
            return {}
        deepest = self.layer_names.index(wanted[-1])
        # Centre and scale so that the random biases cut the ReLUs at varied colour levels.
        x = (image - 0.5) * 4.0
        out: dict[str, torch.Tensor] = {}
        for level, name in enumerate(self.layer_names[: deepest + 1]):
            if level:
                x = _half(x)
            if name in wanted:
                padded = F.pad(x, [self.padding] * 4, mode="reflect" if min(x.shape[-2:]) > self.padding else "replicate")
                out[name] = F.relu(self.convs[level](padded))
        return out

    def tile_geometry(self, layers: Collection[str]) -> dict[str, LayerGeometry]:
        # Reflection padding reads inside the image, so at the image's border a tile that
        # shares it pads as the whole image does; inside, the halo covers the reach.
        conv = Window(self.convs[0].kernel_size[0], padding=self.padding)
        return {name: chain_geometry([_HALF] * self.layer_names.index(name) + [conv])
                for name in self.check_layers(layers)}

    def truncate(self, layers: Collection[str]) -> "RandomMultiscale":
        return self


def random_multiscale(
    *,
    scales: Annotated[int, {"min": 1, "max": 8, "tooltip": "pyramid levels (each halves the image)"}] = 5,
    channels: Annotated[int, {"min": 8, "max": 1024, "tooltip": "random filters per level"}] = 128,
    kernel_size: Annotated[int, {"min": 1, "max": 15, "tooltip": "odd filter size in pixels"}] = 7,
    seed: int = 0,
) -> RandomMultiscale:
    """Random multi-scale filters (Ustyuzhaninov et al. 2017): no weights needed, works offline.

    Parameters
    ----------
    seed
        Seeds the random filters: another seed gives another (equally valid) feature space.
    """
    return RandomMultiscale(scales=scales, channels=channels, kernel_size=kernel_size, seed=seed)
