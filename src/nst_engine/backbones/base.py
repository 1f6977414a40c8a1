"""The backbone contract: a frozen feature extractor whose layers are addressed by name."""

from __future__ import annotations

from collections import OrderedDict
from typing import Collection, Iterable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .geometry import LayerGeometry, chain_geometry, module_window

__all__ = ["Backbone", "SequentialBackbone"]


class Backbone(nn.Module):
    """A feature extractor for style transfer.

    Subclasses set ``layer_names`` (shallow to deep), the default ``content_layers`` and
    ``style_layers``, and ``info`` (what made it: weights, hashes) for provenance. ``forward``
    takes an RGB batch in [0, 1], shape ``(N, 3, H, W)``, and returns the named activations.
    """

    layer_names: tuple[str, ...] = ()
    content_layers: tuple[str, ...] = ()
    style_layers: tuple[str, ...] = ()
    #: Memory backward takes beyond the activations saved for it (gradients, convolution
    #: workspaces), per byte of the features the losses read: for the run's memory estimate
    #: (:mod:`nst_engine.memory`). Measure a subclass's; this default errs high.
    backward_memory: float = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.info: dict = {}

    def forward(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def check_layers(self, layers: Iterable[str]) -> tuple[str, ...]:
        """Return ``layers`` ordered shallow to deep, or raise naming the unknown ones."""
        layers = tuple(layers)
        unknown = [name for name in layers if name not in self.layer_names]
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no layer {', '.join(map(repr, unknown))}; "
                f"layers: {', '.join(self.layer_names)}"
            )
        return tuple(name for name in self.layer_names if name in layers)

    def truncate(self, layers: Iterable[str]) -> "Backbone":
        """Drop everything after the deepest of ``layers``: no run computes more than it uses."""
        return self

    def tile_geometry(self, layers: Iterable[str]) -> dict[str, LayerGeometry] | None:
        """Each layer's stride and reach (:mod:`~nst_engine.backbones.geometry`), or ``None``
        if this backbone cannot say, and so cannot be tiled. The default: cannot."""
        return None

    def freeze(self) -> "Backbone":
        """Inference mode without weight gradients (~30% faster backward than trainable)."""
        self.eval()
        self.requires_grad_(False)
        return self


class SequentialBackbone(Backbone):
    """A backbone that is a chain of named modules after an input normalisation."""

    def __init__(self, body: "OrderedDict[str, nn.Module]", *, mean: Iterable[float], std: Iterable[float]):
        super().__init__()
        self.body = nn.Sequential(body)
        self.layer_names = tuple(body)
        self.register_buffer("mean", torch.tensor(list(mean)).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std)).view(1, -1, 1, 1))
        #: Recompute the activations between requested layers in backward instead of storing
        #: them: ~40% less memory for ~30% more time per step (see docs/performance.md).
        self.checkpointing = False

    #: Measured on VGG-19 at 512² and 1024² (docs/performance.md, "Memory").
    backward_memory = 1.35

    def forward(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        wanted = self.check_layers(layers)
        if not wanted:
            return {}
        x = (image - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        segment: list[tuple[nn.Module, bool]] = []
        kept, previous = False, None
        for name, module in self.body.named_children():
            # A ReLU after a convolution may overwrite the convolution's output (its backward
            # does not need it) unless that output was handed out as a feature: in place saves
            # an activation copy per layer, as torchvision's own VGG does.
            in_place = isinstance(module, nn.ReLU) and isinstance(previous, nn.Conv2d) and not kept
            segment.append((module, in_place))
            kept, previous = name in wanted, module
            if kept:
                x = self._run_segment(segment, x)
                out[name], segment = x, []
                if len(out) == len(wanted):
                    break
        return out

    def _run_segment(self, segment: list[tuple[nn.Module, bool]], x: torch.Tensor) -> torch.Tensor:
        def run(x: torch.Tensor) -> torch.Tensor:
            for module, in_place in segment:
                x = torch.relu_(x) if in_place else module(x)
            return x

        if self.checkpointing and torch.is_grad_enabled() and x.requires_grad and len(segment) > 1:
            # Keep only the requested activations; recompute the rest during backward.
            return checkpoint(run, x, use_reentrant=False)
        return run(x)

    def tile_geometry(self, layers: Iterable[str]) -> dict[str, LayerGeometry] | None:
        wanted = set(self.check_layers(layers))
        windows, out = [], {}
        for name, module in self.body.named_children():
            if len(out) == len(wanted):
                break
            window = module_window(module)
            if window is None:
                return None
            windows.append(window)
            if name in wanted:
                out[name] = chain_geometry(windows)
        return out

    def truncate(self, layers: Iterable[str]) -> "SequentialBackbone":
        deepest = self.check_layers(layers)[-1]
        keep = self.layer_names[: self.layer_names.index(deepest) + 1]
        self.body = nn.Sequential(OrderedDict((n, getattr(self.body, n)) for n in keep))
        self.layer_names = keep
        return self
