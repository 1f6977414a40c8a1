"""The weighted sum of loss terms a run minimises, with its targets computed once per scale.

Dynamic weighting (the brief asks for content and style "in balance without hand tuning"):
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
import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from .plugins import get_entry
from .errors import OptionError, PluginError
from .losses import Loss
from .entries import Entry
from .plugin_calls import blamed
from .references import opposite, style_index, style_ref

__all__ = ["Term", "Objective", "build_terms", "expand_styles", "ReferenceImages", "scalar_value"]


@dataclass
class Term:
    """One registered loss with its weight and provenance.

    Each term owns its ``loss`` instance: per-run state a loss keeps (its reference, mask,
    resolved layers, a wrapped base loss) is never shared with another term.
    """

    name: str
    weight: float
    loss: Loss
    plugin: str
    plugin_version: str | None
    options: dict[str, Any]
    target: Any = field(default=None, repr=False)
    magnitude: float = 1.0
    #: The registry entry: builds another instance with the same options (one per style image).
    entry: Entry | None = field(default=None, repr=False, compare=False)

    @property
    def origin(self) -> str:
        return self.entry.origin if self.entry else f"loss {self.name!r} (plugin {self.plugin})"

    def blamed(self, doing: str):
        """A context in which this term's loss failing is a :class:`PluginError` naming it."""
        return blamed(self.entry, doing) if self.entry else nullcontext()

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
        raise OptionError(f"options given for loss(es) {', '.join(stray)} that are not in use; add them to losses",
                          option="loss_options")
    terms = []
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise OptionError(f"loss {name!r} needs a finite weight >= 0; got {weight!r}", option=f"losses {name}")
        entry = get_entry("losses", name)
        bound = entry.bind(dict(options.get(name, {})))
        try:
            loss = entry.factory(**bound)
        except (TypeError, ValueError) as exc:
            raise OptionError(f"loss {name!r}: {exc}", option=f"loss_options {name}") from None
        terms.append(Term(name, float(weight), loss, entry.plugin, entry.plugin_version, bound,
                          entry=entry))
    if not terms:
        raise OptionError("no loss terms: give at least one, e.g. losses={'content': 1, 'gram': 1e4}", option="losses")
    return terms


def expand_styles(terms: list[Term], style_weights: Sequence[float]) -> list[Term]:
    """One term per style term and style image, weighted by that style's share.

    Each gets a fresh loss instance from the term's entry (a deep copy if it has none): a
    shallow copy would share what the loss holds by reference (a wrapped base loss, a
    generator) between the styles.
    """
    if len(style_weights) == 1:
        return terms
    out = []
    for term in terms:
        if term.loss.role != "style":
            out.append(term)
            continue
        for index, share in enumerate(style_weights):
            with term.blamed("when built again for another style image"):
                loss = term.entry.factory(**term.options) if term.entry else copy.deepcopy(term.loss)
            loss.reference = style_ref(index)
            out.append(dataclasses.replace(term, name=f"{term.name}[{index}]", weight=term.weight * share, loss=loss))
    return out


def _unblamed(doing: str) -> nullcontext:
    return nullcontext()


class ReferenceImages:
    """The run's reference images at one scale, with their features computed once and shared."""

    def __init__(self, backbone: Any, images: Mapping[str, torch.Tensor], *,
                 blame: Callable[[str], Any] = _unblamed) -> None:
        self.backbone = backbone
        self._blame = blame
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
            with self._blame(f"computing the features of the {name} image"):
                computed = self.backbone(self.image(name), missing)
            for layer, value in computed.items():
                self._features[(name, layer)] = value
        return {layer: self._features[(name, layer)] for layer in layers}

    def cached(self) -> list[torch.Tensor]:
        """Every feature map computed so far (what this scale's references hold in memory)."""
        return list(self._features.values())


class Objective:
    """Evaluates the weighted terms on the backbone's features of an image."""

    def __init__(self, backbone: Any, terms: list[Term], *, dynamic: bool = False,
                 blame: Callable[[str], Any] = _unblamed) -> None:
        self.backbone = backbone
        self.terms = terms
        self.dynamic = dynamic
        wanted: set[str] = set()
        for term in terms:
            try:
                with term.blamed("resolving its layers"):
                    wanted.update(term.loss.resolve_layers(backbone))
            except ValueError as exc:
                raise OptionError(str(exc), option=f"loss_options {term.entry.name if term.entry else term.name}") from None
        self.layers = backbone.check_layers(wanted)
        #: Each term's factor in the total: its weight, divided by its magnitude if dynamic.
        self.multipliers = torch.ones(len(terms))
        self.magnitudes = torch.ones(len(terms))
        self.blame = blame

    def references(self, images: Mapping[str, torch.Tensor], masks: Sequence[torch.Tensor | None]) -> ReferenceImages:
        """This scale's reference images; gives each term its mask (style: its style's; content: their union)."""
        given = [mask for mask in masks if mask is not None]
        region = torch.stack(given).sum(0).clamp(max=1.0) if given else None
        for term in self.terms:
            if term.loss.role == "style":
                term.loss.mask = masks[style_index(term.loss.reference)] if masks else None
            elif term.loss.role == "content":
                # Content where the styles apply: outside, the composed image is the content.
                term.loss.mask = region
        return ReferenceImages(self.backbone, images, blame=self.blame)

    @torch.no_grad()
    def set_targets(self, images: Mapping[str, torch.Tensor], masks: Sequence[torch.Tensor | None]) -> None:
        """Compute every term's target (and magnitude) at this scale's reference images."""
        references = self.references(images, masks)
        for term in self.terms:
            with term.blamed("preparing its target"):
                term.target = term.loss.prepare(references)
            far = opposite(term.loss.role)
            with term.blamed("measuring its reference magnitude"):
                features = references.features(far, term.loss.layers)
                value = scalar_value(term, term.loss(references.image(far), features, term.target))
            term.magnitude = max(float(value), 1e-12)
        self.set_multipliers()

    def set_multipliers(self) -> None:
        """Each term's factor in the total, from its weight and (if dynamic) its magnitude."""
        weights = torch.tensor([t.weight for t in self.terms])
        magnitudes = torch.tensor([t.magnitude for t in self.terms])
        self.multipliers = weights / magnitudes if self.dynamic else weights
        self.magnitudes = magnitudes

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Total loss and the stacked raw (unweighted) terms, in ``self.terms`` order."""
        with self.blame("computing features"):
            features = self.backbone(image, self.layers) if self.layers else {}
        values = []
        for term in self.terms:
            with term.blamed("computing its value"):
                values.append(scalar_value(term, term.loss(image, features, term.target)))
        raw = torch.stack(values)
        return (raw * self.multipliers.to(raw)).sum(), raw


def scalar_value(term: Term, value: Any) -> torch.Tensor:
    """``value`` if it is a 0-dim float tensor; else a :class:`PluginError` naming the term."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.is_floating_point():
        return value
    shape = f"a tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
    raise PluginError(f"{term.origin} returned {shape}: a loss returns a 0-dim float tensor (end with .mean() or .sum())")
