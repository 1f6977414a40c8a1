"""What runs in the worker thread of the Color Transfer widget: engine calls, no Qt, no layers.

:func:`color_job` recolours the chosen planes with each method of a :class:`ColorJob`,
yields a :class:`ColorProgress` after every plane (the widget shows the newest on a timer),
and returns a :class:`ColorResult`. A comparison stacks every method's result along a
leading *method* axis here, in the worker, so that the main thread adds one layer, not one
per method; a large result's pyramid is built here too. The figures come from
:mod:`nst_engine.metrics`: the per-channel ``KL(reference ‖ result)`` of kernel density
estimates and SSIM of the luminance.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nst_engine.metrics import kl_divergence, ssim
from nst_engine.transfers import bind_color_transfer

from ._layers import at_plane, put_plane, to_unit
from ._lazy import LazyPlane, read_plane, read_style
from ._multiscale import multiscale_of
from ._workers import RunFailed, failure_message

__all__ = ["ColorJob", "ColorProgress", "ColorOutcome", "ColorResult", "color_job"]


@dataclass(frozen=True)
class ColorJob:
    """Source planes, a reference plane and the methods to run, captured on the main thread.

    ``stack_shape`` is the source's leading shape when every plane is recoloured, else
    ``()``: the result is then the one plane ``indices[0]``. A ``compare`` job has one plane;
    its figures are measured and its results are stacked along a leading method axis.
    """

    source: Any  # a layer's data, or a lazy layer's LazyLevels (read here, at full resolution)
    source_limits: tuple[float, float]
    reference: np.ndarray | LazyPlane
    indices: tuple[tuple[int, ...], ...]
    stack_shape: tuple[int, ...]
    methods: tuple[tuple[str, dict], ...]
    compare: bool = False


@dataclass(frozen=True)
class ColorProgress:
    """``done`` of ``total`` (method, plane) pairs are recoloured; ``method`` is the latest."""

    done: int
    total: int
    method: str


@dataclass(frozen=True)
class ColorOutcome:
    """One method's result, how long its transfers took and, if measured, its figures;
    ``options`` holds every option, defaults included, so the provenance reproduces it."""

    method: str
    options: dict
    plugin: str
    plugin_version: str | None
    image: np.ndarray = field(repr=False)
    seconds: float
    kl: dict[str, float] | None = None
    ssim: float | None = None

    def provenance(self) -> dict:
        """What ``metadata["nst"]`` records of this result."""
        out = {
            "kind": "color_transfer",
            "method": self.method,
            "options": self.options,
            "plugin": self.plugin,
            "version": self.plugin_version,
            "seconds": round(self.seconds, 4),
        }
        if self.kl is not None:
            out["kl_reference_result"] = self.kl
        if self.ssim is not None:
            out["ssim_source_result"] = self.ssim
        return out


@dataclass(frozen=True)
class ColorResult:
    """Every method's outcome; for a comparison, ``stack`` holds their images along axis 0.

    ``stack[i]`` is outcome ``i``'s image with the length-1 leading axes of
    :func:`~napari_nst._layers.at_plane` when the source is a stack; the outcome's image is
    a view of it, so a comparison holds each result once. ``levels`` is what the layer shows
    (Apply's image, or ``stack``) as a multiscale layer's levels, full resolution first, for a
    large result or a multiscale source (:mod:`napari_nst._multiscale`), else None.
    """

    outcomes: list[ColorOutcome]
    stack: np.ndarray | None = field(default=None, repr=False)
    levels: list[np.ndarray] | None = field(default=None, repr=False)


def color_job(job: ColorJob) -> Generator[ColorProgress, Any, ColorResult]:
    """Run each method of ``job`` on its planes, yielding progress after every plane."""
    try:
        job = replace(job, reference=read_style(job.reference, side=None)[0])
        total = len(job.methods) * len(job.indices)
        outcomes: list[ColorOutcome] = []
        for name, options in job.methods:
            done = len(outcomes) * len(job.indices)
            outcome = yield from _transfer(job, name, options, done=done, total=total)
            outcomes.append(outcome)
        if not job.compare:
            return ColorResult(outcomes, levels=multiscale_of(outcomes[0].image, job.source, lead=len(job.stack_shape)))
        index = job.indices[0]
        stack = np.stack([at_plane(o.image, index) for o in outcomes])
        views = [replace(o, image=plane.reshape(o.image.shape)) for o, plane in zip(outcomes, stack, strict=True)]
        return ColorResult(views, stack, multiscale_of(stack, job.source, lead=1 + len(index)))
    except Exception as exc:
        raise RunFailed(failure_message("Color transfer", exc)) from exc


def _transfer(
    job: ColorJob, name: str, options: dict, *, done: int, total: int
) -> Generator[ColorProgress, Any, ColorOutcome]:
    # The checked call: a third-party transfer that misbehaves is named, never shown as a layer.
    transfer = bind_color_transfer(name, **options)
    image: np.ndarray | None = None
    seconds = 0.0
    for count, index in enumerate(job.indices):
        plane = to_unit(read_plane(job.source, index, size=None)[0], job.source_limits)
        started = time.perf_counter()
        result = transfer(plane, job.reference)
        seconds += time.perf_counter() - started
        image = put_plane(image, job.stack_shape, index, result)
        yield ColorProgress(done + count + 1, total, name)
    kl = score = None
    if job.compare:  # one plane: ``plane`` and ``image`` are its source and result
        kl = kl_divergence(job.reference, image).as_dict()
        score = ssim(plane, image)
    entry = transfer.entry
    return ColorOutcome(name, transfer.options, entry.plugin, entry.plugin_version, image, seconds, kl, score)
