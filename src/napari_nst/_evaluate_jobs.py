"""What runs in the worker thread of the Evaluate widget: engine calls, no Qt, no layers.

The numbers come from :mod:`nst_engine.metrics`: color fidelity is the per-channel
``KL(reference ‖ result)`` of kernel density estimates (the seed paper's measure), structure
is SSIM of the luminance, style closeness is the Gram distance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nst_engine import metrics
from nst_engine.errors import NstError
from nst_engine.images import resize_to, split_image
from nst_engine.metrics import channel_densities, kl_divergence, ssim

from ._workers import RunFailed, failure_message

__all__ = ["Candidate", "EvaluationRow", "Evaluation", "evaluate"]


@dataclass(frozen=True)
class Candidate:
    """A layer's plane to evaluate, by name."""

    name: str
    image: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class EvaluationRow:
    """The figures of one candidate; ``notes`` says why a figure is missing or approximate."""

    name: str
    kl: dict[str, float] | None
    ssim: float | None
    gram: float | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """Rows for the table and channel densities (name -> channel -> density) for the plot.

    ``gram_note`` says once why no row has a Gram distance (one backbone serves all rows,
    so its failure is the same for each).
    """

    rows: list[EvaluationRow]
    densities: dict[str, dict[str, np.ndarray]]
    grid: int
    gram_note: str | None = None


def evaluate(
    candidates: list[Candidate],
    *,
    colors: np.ndarray | None,
    structure: np.ndarray | None,
    style: np.ndarray | None,
    backbone: str,
    grid: int = 256,
) -> Evaluation:
    """KL against ``colors``, SSIM against ``structure`` and Gram distance against ``style``."""
    try:
        grams, gram_note = _gram_distances(candidates, style, backbone)
        rows = [_row(c, colors, structure, gram) for c, gram in zip(candidates, grams)]
        densities = {}
        if colors is not None:
            densities["reference colors"] = channel_densities(colors, grid=grid)
        for c in candidates:
            densities[c.name] = channel_densities(c.image, grid=grid)
        return Evaluation(rows, densities, grid, gram_note)
    except Exception as exc:
        raise RunFailed(failure_message("Evaluation", exc)) from exc


def _gram_distances(
    candidates: list[Candidate], style: np.ndarray | None, backbone: str
) -> tuple[list[float | None], str | None]:
    """Every candidate's Gram distance to ``style`` (one backbone, one set of style Grams),
    or Nones and the note that says why there are none."""
    missing: list[float | None] = [None] * len(candidates)
    if style is None:
        return missing, None
    try:
        images = [c.image for c in candidates]
        # Looked up here, not imported at the top: the Gram distances import torch.
        return list(metrics.gram_distances(images, style, backbone=backbone)), None
    except NstError as exc:
        return missing, f"Gram distance: {exc}"


def _row(
    candidate: Candidate, colors: np.ndarray | None, structure: np.ndarray | None, gram: float | None
) -> EvaluationRow:
    notes = []
    kl = kl_divergence(colors, candidate.image).as_dict() if colors is not None else None
    score = None
    if structure is not None:
        image = candidate.image
        if image.shape[:2] != structure.shape[:2]:
            image = resize_to(split_image(image)[0], structure.shape[:2])
            notes.append(f"SSIM after resizing to {structure.shape[0]}×{structure.shape[1]}")
        score = ssim(structure, image)
    return EvaluationRow(candidate.name, kl, score, gram, tuple(notes))
