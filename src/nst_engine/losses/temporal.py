"""Temporal consistency with earlier frames (Ruder, Dosovitskiy & Brox 2016, "Artistic style transfer for videos").

The short-term loss holds frame *i*'s result ``x`` to the previous result warped into frame
*i* by the optical flow, ``ω``, wherever the flow is reliable (``c`` = 1; occluded pixels
and motion boundaries have ``c`` = 0): ``(1/D) Σ c·(x − ω)²`` with ``D`` = 3·H·W, the paper's
eq. 7. The long-term loss sums that over several earlier frames ``j`` with weights that count
each pixel once, from the nearest frame that sees it (eq. 8, :func:`~nst_engine.video.occlusion`).

The warped results and their weights are guides of the run (:mod:`nst_engine.guides`):
``previous:<j>`` and ``previous-weight:<j>``, which :mod:`nst_engine.video` computes per frame.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import torch

from ..guides import previous_ref, previous_weight_ref
from .terms import Loss, References

__all__ = ["TemporalLoss", "check_offsets"]


def check_offsets(offsets: Any, name: str) -> tuple[int, ...]:
    """Earlier frames as sorted whole numbers >= 1; a ``ValueError`` naming ``name`` otherwise."""
    offsets = tuple(offsets)
    if not offsets or any(isinstance(j, bool) or not isinstance(j, int) or j < 1 for j in offsets):
        raise ValueError(f"{name} must be whole numbers >= 1 (1 = the previous frame); got {offsets!r}")
    return tuple(sorted(set(offsets)))


class TemporalLoss(Loss):
    """Weighted squared difference to earlier results warped into this frame."""

    role = "image"

    def __init__(self, *, offsets: Annotated[tuple[int, ...], {
            "tooltip": "earlier frames it holds to: 1 is the previous one; several (e.g. 1,2,4) is the long-term loss"}] = (1,),
    ) -> None:
        self.offsets = check_offsets(offsets, "offsets")

    def prepare(self, references: References) -> list[tuple[torch.Tensor, torch.Tensor]]:
        try:
            return [(references.image(previous_ref(j)), references.image(previous_weight_ref(j))) for j in self.offsets]
        except KeyError as exc:
            raise ValueError(
                f"the temporal loss needs the guides {previous_ref(1)!r} and {previous_weight_ref(1)!r} for each of its "
                f"offsets {self.offsets} (nst_engine.video computes them; see nst_engine.guides): {exc.args[0]}"
            ) from None

    def __call__(self, image: torch.Tensor, features: Mapping[str, torch.Tensor], target: Any) -> torch.Tensor:
        total = image.new_zeros(())
        for warped, weight in target:
            total = total + (weight * (image - warped).square()).mean()
        return total
