"""Where a backbone's features come from in the image: each layer's stride and reach.

A tiled step (:mod:`nst_engine.tiling`) computes a tile's features from the tile plus a halo;
they equal the untiled features wherever every input pixel they depend on lies inside the
tile or beyond the image's own border. That needs, per layer, the *stride* (input pixels per
feature pixel, so tile origins can be aligned to the pooling grid) and the *reach* (how far
outside a block of ``stride`` input pixels a feature's receptive field extends). Both follow
from the chain of convolutions and poolings in front of the layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from torch import nn

__all__ = ["LayerGeometry", "Window", "aligned", "chain_geometry", "module_window"]


@dataclass(frozen=True)
class Window:
    """One sliding-window operation: kernel size, stride, padding, dilation (square)."""

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


@dataclass(frozen=True)
class LayerGeometry:
    """Feature ``i`` of a layer depends on input pixels ``[stride·i − reach, stride·(i+1) − 1 + reach]``."""

    stride: int
    reach: int


def chain_geometry(windows: Iterable[Window]) -> LayerGeometry:
    """The geometry after ``windows`` applied in order to the input.

    Output ``i`` of a window covers its input ``[s·i − p, s·i − p + d(k−1)]``; composing these
    intervals through the chain gives the span ``[A·i + lo, A·i + hi]`` of input pixels behind
    feature ``i`` (``A`` the product of strides). A block of ``A`` core pixels then needs
    ``−lo`` pixels on its left and ``hi − A + 1`` on its right.
    """
    jump, lo, hi = 1, 0, 0
    for w in windows:
        lo -= jump * w.padding
        hi += jump * (w.dilation * (w.kernel - 1) - w.padding)
        jump *= w.stride
    return LayerGeometry(jump, max(0, -lo, hi - jump + 1))


def _pair(value: int | Sequence[int]) -> int | None:
    """A square window's size (``None`` for a rectangular one, which this module does not handle)."""
    if isinstance(value, int):
        return value
    return value[0] if len(set(value)) == 1 else None


def module_window(module: nn.Module) -> Window | None:
    """``module`` as a window; ``Window(1)`` for pointwise modules; ``None`` if unknown.

    Unknown modules (a residual block, a rectangular or "same"-string padding) make the
    backbone untileable rather than tiled wrongly.
    """
    if isinstance(module, (nn.ReLU, nn.LeakyReLU, nn.Identity, nn.BatchNorm2d)):
        return Window(1)
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        kernel, stride = _pair(module.kernel_size), _pair(module.stride)
        padding = module.padding if not isinstance(module.padding, str) else None
        dilation = _pair(getattr(module, "dilation", 1))
        if None in (kernel, stride, dilation) or padding is None or _pair(padding) is None:
            return None
        if getattr(module, "ceil_mode", False):
            return None
        return Window(kernel, stride, _pair(padding), dilation)
    window = getattr(module, "window", None)  # a custom pooling that declares its window
    return window if isinstance(window, Window) else None


def aligned(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``."""
    return math.ceil(value / multiple) * multiple
