"""The weighted sum of loss terms a run minimises, with its targets computed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from .catalog import get_entry
from .errors import OptionError
from .losses import Loss

__all__ = ["Term", "Objective", "build_terms"]


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
        raise OptionError("no loss terms: give at least one, e.g. losses={'content': 1, 'gram': 1e5}")
    return terms


class Objective:
    """Evaluates the weighted terms on the backbone's features of an image."""

    def __init__(self, backbone: Any, terms: list[Term]) -> None:
        self.backbone = backbone
        self.terms = terms
        try:
            by_role = {
                role: {layer for t in terms if t.loss.role == role for layer in t.loss.resolve_layers(backbone)}
                for role in ("content", "style", "image")
            }
        except ValueError as exc:
            raise OptionError(str(exc)) from None
        self.role_layers = {role: backbone.check_layers(layers) for role, layers in by_role.items()}
        self.layers = backbone.check_layers(set().union(*by_role.values()))

    @torch.no_grad()
    def set_targets(self, references: Mapping[str, torch.Tensor]) -> None:
        """Compute every term's target from its role's reference image (once per scale)."""
        features = {
            role: self.backbone(image, self.role_layers[role]) if self.role_layers[role] else {}
            for role, image in references.items()
        }
        for term in self.terms:
            term.target = term.loss.prepare(features.get(term.loss.role, {}))

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Total loss and the stacked weighted terms (in ``self.terms`` order)."""
        features = self.backbone(image, self.layers) if self.layers else {}
        values = torch.stack([t.weight * t.loss(image, features, t.target) for t in self.terms])
        return values.sum(), values
