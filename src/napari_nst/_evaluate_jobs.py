"""What runs in the worker thread of the Evaluate widget: engine calls, no Qt, no layers.

The numbers come from :mod:`nst_engine.metrics`: color fidelity is the per-channel
``KL(reference ‖ result)`` of kernel density estimates (the seed paper's measure), structure
is SSIM of the luminance, style closeness is the Gram distance. A lazy (dask, zarr) or multiscale
layer arrives unread (:class:`~napari_nst._lazy.LazyPlane`) and is read here, reduced to
:data:`EVALUATE_SIDE` on its longer side when larger; the row's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nst_engine import metrics
from nst_engine.errors import NstError
from nst_engine.images import resize_to, split_image
from nst_engine.metrics import channel_densities, kl_divergence, ssim

from ._lazy import LazyPlane, read_style
from ._workers import RunFailed, failure_message

__all__ = ["EVALUATE_SIDE", "Candidate", "EvaluationRow", "Evaluation", "evaluate"]

#: A lazy layer whose plane is longer than this is measured at this longer side (area-reduced from
#: its smallest fitting level; a pyramid's base may be 40k²). SSIM took 1.9 s at 2048², 7.5 s at 4096².
EVALUATE_SIDE = 2048


@dataclass(frozen=True)
class Candidate:
    """A layer's plane to evaluate, by name: an array, or a lazy layer's plane read in the worker."""

    name: str
    image: np.ndarray | LazyPlane = field(repr=False)


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
    colors: np.ndarray | LazyPlane | None,
    structure: np.ndarray | LazyPlane | None,
    style: np.ndarray | LazyPlane | None,
    backbone: str,
    grid: int = 256,
) -> Evaluation:
    """KL against ``colors``, SSIM against ``structure`` and Gram distance against ``style``.

    Lazy planes are read here (worker thread), at most :data:`EVALUATE_SIDE` a side.
    """
    try:
        reads = _Reads()
        colors, colors_note = reads(colors, "'colors of' layer")
        structure, structure_note = reads(structure, "'structure of' layer")
        style, _ = reads(style, "'style of' layer")  # the Gram distance resizes it to 256 px anyway
        read = [reads(c.image, "layer") for c in candidates]
        candidates = [Candidate(c.name, image) for c, (image, _) in zip(candidates, read)]
        notes = [tuple(n for n in (note, colors_note, structure_note) if n) for _, note in read]
        grams, gram_note = _gram_distances(candidates, style, backbone)
        rows = [_row(c, colors, structure, gram, n) for c, gram, n in zip(candidates, grams, notes)]
        densities = {}
        if colors is not None:
            densities["reference colors"] = channel_densities(colors, grid=grid)
        for c in candidates:
            densities[c.name] = channel_densities(c.image, grid=grid)
        return Evaluation(rows, densities, grid, gram_note)
    except Exception as exc:
        raise RunFailed(failure_message("Evaluation", exc)) from exc


class _Reads:
    """Planes read at most :data:`EVALUATE_SIDE` a side, each lazy plane once (one layer is often
    both a candidate and a reference), with a note for each one read reduced."""

    def __init__(self) -> None:
        self._done: dict[Any, tuple[np.ndarray, dict | None]] = {}

    def __call__(self, image: np.ndarray | LazyPlane | None, what: str) -> tuple[np.ndarray | None, str | None]:
        """``image`` as an array, and ``what`` "read at" which size when it was read reduced."""
        if image is None:
            return None, None
        key = _plane_key(image)
        if key not in self._done:
            self._done[key] = read_style(image, side=EVALUATE_SIDE)
        array, how = self._done[key]
        if how is None or how["read"] != "reduced":
            return array, None
        (big_h, big_w), (h, w) = how["from"], how["shape"]
        return array, f"{what} read at {h}×{w} of {big_h}×{big_w}"


def _plane_key(image: np.ndarray | LazyPlane) -> Any:
    """The same for two captures of one layer's plane: dask names follow the data, not the capture."""
    if not isinstance(image, LazyPlane):
        return id(image)
    return tuple(level.name for level in image.source.levels), image.index, image.limits


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
    candidate: Candidate, colors: np.ndarray | None, structure: np.ndarray | None, gram: float | None,
    notes_read: tuple[str, ...] = (),
) -> EvaluationRow:
    notes = list(notes_read)
    kl = kl_divergence(colors, candidate.image).as_dict() if colors is not None else None
    score = None
    if structure is not None:
        image = candidate.image
        if image.shape[:2] != structure.shape[:2]:
            image = resize_to(split_image(image)[0], structure.shape[:2])
            notes.append(f"SSIM after resizing to {structure.shape[0]}×{structure.shape[1]}")
        score = ssim(structure, image)
    return EvaluationRow(candidate.name, kl, score, gram, tuple(notes))
