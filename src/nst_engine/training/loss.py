"""Johnson et al. 2016's perceptual loss, made of the engine's registered loss terms.

"Perceptual Losses for Real-Time Style Transfer and Super-Resolution" (ECCV 2016): the
network's output is compared with its input crop by feature reconstruction at one layer and
with the style image by Gram matrices at several, plus total variation. Those are the
``content``, ``gram`` and ``tv`` terms a style-transfer run minimises; any registered term
works, built by :func:`nst_engine.objective.build_terms` and fed the same reference images
(:mod:`nst_engine.references`). Style targets are computed once per style image; content
targets once per batch. With several styles (conditional instance norm, Dumoulin et al.
2017) each crop is held to its own style's targets: the batch is split by style, and each
group's term value counts by its share of the batch.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..errors import OptionError
from ..objective import Objective, ReferenceImages, Term, scalar_value
from ..references import CONTENT, STYLE, STYLE_AT_CONTENT, style_ref

__all__ = ["PerceptualLoss"]


class PerceptualLoss:
    """The weighted terms of a training step; :meth:`set_styles` computes each style's targets once.

    Parameters
    ----------
    network
        The frozen backbone (truncated here to the deepest layer the terms read).
    terms
        From :func:`~nst_engine.objective.build_terms`; one instance per term, whatever the styles.
    blame
        The backbone's blame context (:meth:`nst_engine.plan.Bound.blamed`).
    """

    def __init__(self, network: Any, terms: list[Term], *, blame: Callable[[str], Any]) -> None:
        self.objective = Objective(network, terms, blame=blame)
        if self.objective.layers:
            network.truncate(self.objective.layers)
        self.network, self.terms, self.blame = network, terms, blame
        self.weights = torch.tensor([t.weight for t in terms])
        self.styles: list[torch.Tensor] = []
        #: Per style, the style terms' targets by term index: fixed for the whole training.
        self._style_targets: list[dict[int, Any]] = []

    def set_styles(self, styles: list[torch.Tensor]) -> None:
        """Compute the style terms' targets of each style (``1×3×h×w`` in [0, 1], on the network's device)."""
        self.styles, self._style_targets = list(styles), []
        for style in styles:
            references = ReferenceImages(self.network, {STYLE: style, style_ref(0): style}, blame=self.blame)
            self._style_targets.append({i: self._prepare(term, references) for i, term in enumerate(self.terms)
                                        if term.loss.role == "style"})

    def _prepare(self, term: Term, references: ReferenceImages) -> Any:
        try:
            with term.blamed("preparing its target"), torch.no_grad():
                return term.loss.prepare(references)
        except KeyError as exc:
            raise OptionError(f"loss {term.name!r} needs a reference that training does not have ({exc.args[0]}); "
                              "train with content, gram, mean-std, mmd, tv and the like", option=f"losses {term.name}") \
                from None

    def _batch_references(self, content: torch.Tensor, style: torch.Tensor) -> ReferenceImages:
        """A group's references: its content crops, and its style (also at the crops' size, per crop)."""
        at_content = F.interpolate(style, size=content.shape[-2:], mode="bilinear", align_corners=False,
                                   antialias=True).clamp(0, 1).expand(content.shape[0], -1, -1, -1)
        return ReferenceImages(self.network, {CONTENT: content, STYLE: style, style_ref(0): style,
                                              STYLE_AT_CONTENT: at_content}, blame=self.blame)

    def __call__(self, output: torch.Tensor, content: torch.Tensor,
                 style_indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Total loss of ``output`` (the network's, ``N×3×H×W``) for ``content`` and each crop's style,
        and the raw (unweighted) terms, in ``terms`` order."""
        with self.blame("computing features"):
            features = self.network(output, self.objective.layers) if self.objective.layers else {}
        values = [output.new_zeros(()) for _ in self.terms]
        count = len(style_indices)
        for style in sorted(set(style_indices)):
            rows = [i for i, s in enumerate(style_indices) if s == style]
            if len(rows) == count:
                part, part_features, part_content = output, features, content
            else:
                index = torch.tensor(rows, device=output.device)
                part, part_content = output[index], content[index]
                part_features = {layer: value[index] for layer, value in features.items()}
            references = self._batch_references(part_content, self.styles[style])
            for i, term in enumerate(self.terms):
                target = self._style_targets[style][i] if i in self._style_targets[style] \
                    else self._prepare(term, references)
                with term.blamed("computing its value"):
                    value = scalar_value(term, term.loss(part, part_features, target))
                values[i] = values[i] + value * (len(rows) / count)
        raw = torch.stack(values)
        return (raw * self.weights.to(raw)).sum(), raw
