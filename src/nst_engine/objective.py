"""The weighted sum of loss terms a run minimises, with its targets computed once per scale.

Dynamic weighting (seed 002 asks for content and style "in balance without hand tuning"):
each term is divided by its *reference magnitude*, the value it takes when the image is the
opposite extreme: a content term evaluated on the style image (resized to the content),
a style term on the untouched content, a regulariser on the content. A term's normalised
value is then the fraction of that distance still to go, so ``losses={"content": 1, "gram": 1}``
asks for equal progress on both, whatever the style image's feature magnitudes. The
magnitudes are fixed per scale, so L-BFGS sees one smooth objective. The fractions are
reported whether or not weighting is dynamic.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

from .catalog import get_entry
from .errors import OptionError
from .losses import Loss

__all__ = ["Term", "Objective", "build_terms", "expand_styles", "ReferenceImages"]


@dataclass
class Term:
    """One registered loss with its weight and provenance."""

    name: str
    weight: float
    loss: Loss
    plugin: str
    plugin_version: str | None
    options: dict[str, Any]
    target: Any = field(default=None, repr=False)
    magnitude: float = 1.0

    def describe(self) -> dict:
        return {
            "name": self.name,
            "weight": self.weight,
            "plugin": self.plugin,
            "version": self.plugin_version,
            "options": self.options,
            "layers": list(self.loss.layers),
        }


def build_terms(weights: Mapping[str, float], options: Mapping[str, Mapping[str, Any]]) -> list[Term]:
    """Create the loss terms named in ``weights``; ``options`` holds each one's options."""
    stray = sorted(set(options) - set(weights))
    if stray:
        raise OptionError(f"options given for loss(es) {', '.join(stray)} that are not in use; add them to losses")
    terms = []
    for name, weight in weights.items():
        if not isinstance(weight, (int, float)) or weight < 0:
            raise OptionError(f"loss {name!r} needs a weight >= 0; got {weight!r}")
        entry = get_entry("losses", name)
        bound = entry.bind(dict(options.get(name, {})))
        try:
            loss = entry.factory(**bound)
        except (TypeError, ValueError) as exc:
            raise OptionError(f"loss {name!r}: {exc}") from None
        terms.append(Term(name, float(weight), loss, entry.plugin, entry.plugin_version, bound))
    if not terms:
        raise OptionError("no loss terms: give at least one, e.g. losses={'content': 1, 'gram': 1e4}")
    return terms


def expand_styles(terms: list[Term], style_weights: Sequence[float]) -> list[Term]:
    """One copy of each style term per style image, weighted by that style's share."""
    if len(style_weights) == 1:
        return terms
    out = []
    for term in terms:
        if term.loss.role != "style":
            out.append(term)
            continue
        for index, share in enumerate(style_weights):
            loss = copy.copy(term.loss)
            loss.reference = f"style:{index}"
            out.append(dataclasses.replace(term, name=f"{term.name}[{index}]", weight=term.weight * share, loss=loss))
    return out


class ReferenceImages:
    """The run's reference images at one scale, with their features computed once and shared."""

    def __init__(self, backbone: Any, images: Mapping[str, torch.Tensor]) -> None:
        self.backbone = backbone
        self._images = dict(images)
        self._features: dict[tuple[str, str], torch.Tensor] = {}

    def image(self, name: str) -> torch.Tensor:
        if name not in self._images:
            raise KeyError(f"no reference image {name!r}; references: {', '.join(self._images)}")
        return self._images[name]

    @torch.no_grad()
    def features(self, name: str, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        missing = [layer for layer in layers if (name, layer) not in self._features]
        if missing:
            for layer, value in self.backbone(self.image(name), missing).items():
                self._features[(name, layer)] = value
        return {layer: self._features[(name, layer)] for layer in layers}


def _opposite(role: str) -> str:
    """The reference image a term's magnitude is measured on (see the module docstring)."""
    return "style@content" if role == "content" else "content"


class Objective:
    """Evaluates the weighted terms on the backbone's features of an image."""

    def __init__(self, backbone: Any, terms: list[Term], *, dynamic: bool = False) -> None:
        self.backbone = backbone
        self.terms = terms
        self.dynamic = dynamic
        try:
            wanted = {layer for t in terms for layer in t.loss.resolve_layers(backbone)}
        except ValueError as exc:
            raise OptionError(str(exc)) from None
        self.layers = backbone.check_layers(wanted)
        self.scales = torch.ones(len(terms))

    @torch.no_grad()
    def set_targets(self, images: Mapping[str, torch.Tensor], masks: Sequence[torch.Tensor | None]) -> None:
        """Compute every term's target (and magnitude) at this scale's reference images."""
        references = ReferenceImages(self.backbone, images)
        given = [mask for mask in masks if mask is not None]
        region = torch.stack(given).sum(0).clamp(max=1.0) if given else None
        for term in self.terms:
            if term.loss.role == "style":
                index = int(term.loss.reference.split(":")[1]) if term.loss.reference else 0
                term.loss.mask = masks[index] if masks else None
            elif term.loss.role == "content":
                # Content where the styles apply: outside, the composed image is the content.
                term.loss.mask = region
            term.target = term.loss.prepare(references)
            opposite = _opposite(term.loss.role)
            features = references.features(opposite, term.loss.layers)
            term.magnitude = max(float(term.loss(references.image(opposite), features, term.target)), 1e-12)
        weights = torch.tensor([t.weight for t in self.terms])
        magnitudes = torch.tensor([t.magnitude for t in self.terms])
        self.scales = weights / magnitudes if self.dynamic else weights
        self.magnitudes = magnitudes

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Total loss and the stacked raw (unweighted) terms, in ``self.terms`` order."""
        features = self.backbone(image, self.layers) if self.layers else {}
        raw = torch.stack([t.loss(image, features, t.target) for t in self.terms])
        return (raw * self.scales.to(raw)).sum(), raw
