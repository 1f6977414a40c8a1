"""What runs in the worker threads of the Fast Style widget: loading a model, applying it; no Qt.

A feed-forward model (:mod:`nst_engine.models`) stylises a plane in one forward pass, so the
widget can follow the dims sliders. Loading the file takes seconds (torch, a SHA-256 over the
file): :func:`load_fast_model` runs in a worker too. :func:`fast_job` applies the model to the
planes of a :class:`FastJob` (plain arrays and options captured on the main thread), yielding
each finished plane, written into the result layer's arrays here (for a multiscale result
with its halves, made here too), so the result layer fills in as it goes; the job's
``cancel`` event is checked between planes, and the planes done so far are kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nst_engine.devices import resolve_device, torch_threads
from nst_engine.errors import OptionError
from nst_engine.images import max_side_shape, resize_to, to_unit_float
from nst_engine.models import Model, load_model
from nst_engine.models.applying import clip_heap

from ._layers import to_unit
from ._lazy import LazyPlane, read_plane, read_style
from ._multiscale import result_pyramid
from ._workers import RunFailed, failure_message

__all__ = [
    "MAX_STYLE_SIDE", "LoadedModel", "FastJob", "FastPlane", "FastResult", "load_fast_model", "call_options",
    "fast_job", "fill_plane",
]

#: A style image is reduced to this longer side before it is encoded: pytorch-AdaIN's default
#: ``style_size`` (Huang & Belongie 2017 train and test at 512), and each plane encodes it again.
MAX_STYLE_SIDE = 512


@dataclass(frozen=True)
class LoadedModel:
    """A model read from ``path`` (whose SHA-256 is ``sha256``), ready on its device."""

    model: Model = field(repr=False)
    path: str
    sha256: str
    seconds: float

    @property
    def styles(self) -> int:
        """How many learnt styles the model holds (conditional instance norm when above 1)."""
        return int(getattr(self.model, "styles", 1))

    def summary(self) -> str:
        """One line for the panel: the model's kind, styles and size."""
        kind = self.model.name or type(self.model).__name__
        styles = f", {self.styles} styles" if self.styles > 1 else ""
        style = ", style from an image" if self.model.needs_style else ""
        parameters = sum(p.numel() for p in self.model.parameters()) / 1e6
        return f"{kind}{styles}{style}, {parameters:.2f} M parameters (loaded in {self.seconds:.1f} s)"


def load_fast_model(path: str, *, sha256: str | None = None, device: str = "auto") -> LoadedModel:
    """Read a model with :func:`nst_engine.models.load_model` (refusing unsafe or changed files)."""
    try:
        started = time.perf_counter()
        model = load_model(path, sha256=sha256 or None)
        model.to(resolve_device(device)).eval()
        digest = str(model.provenance.get("sha256", ""))
        return LoadedModel(model, str(Path(path).expanduser()), digest, time.perf_counter() - started)
    except Exception as exc:
        raise RunFailed(failure_message("Loading the model", exc)) from exc


def call_options(model: Model, *, styles: int, style_index: int, mix: str, alpha: float) -> dict[str, Any]:
    """The per-call options of ``model`` from the form: AdaIN's ``alpha``; a CIN model's style or mix.

    ``mix`` is the form's text, weights separated by commas (empty: ``style_index`` alone).
    """
    if model.needs_style:
        return {"alpha": float(alpha)} if "alpha" in model.call_options else {}
    if styles <= 1 or "style_index" not in model.call_options:
        return {}
    text = mix.strip()
    if not text:
        return {"style_index": int(style_index)}
    try:
        weights = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise OptionError(f"mix must be {styles} numbers separated by commas, not {text!r}",
                          option="style_mix") from None
    if len(weights) != styles:
        raise OptionError(f"mix needs {styles} weights, one per style, not {len(weights)}", option="style_mix")
    return {"style_mix": weights}


@dataclass(frozen=True)
class FastJob:
    """The planes to stylise and how, captured on the main thread so the worker touches no layer."""

    model: Model = field(repr=False)
    content: Any  # a layer's data, or a lazy layer's LazyLevels (read here, at the run's size)
    content_limits: tuple[float, float]
    indices: tuple[tuple[int, ...], ...]
    out_hw: tuple[int, int]
    size: int | None = None
    style: np.ndarray | LazyPlane | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)
    # 0: each plane is one array; n: it is halved here into at least n levels (a multiscale result).
    levels: int = 0
    # The result layer's arrays (its levels, full resolution first), each the whole stack in RGBA:
    # the worker writes each finished plane into them, so an 8192² plane's copy (0.9 s, seconds
    # more for fresh memory) never holds up napari's main thread, which only repaints.
    targets: tuple[np.ndarray, ...] = field(default=(), repr=False)
    # Torch's CPU threads for the run (the plugin's "threads" setting); None keeps torch's own.
    threads: int | None = None
    # Set from the main thread: the run stops before its next plane.
    cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)


@dataclass(frozen=True)
class FastPlane:
    """Plane ``index`` is done (``done`` of ``total``) and written into the job's targets."""

    done: int
    total: int
    index: tuple[int, ...]
    seconds: float


@dataclass(frozen=True)
class FastResult:
    """The planes done, in order, whether the run was cancelled, and the seconds of model time."""

    planes: tuple[tuple[int, ...], ...]
    cancelled: bool
    seconds: float


def _device(model: Model) -> torch.device:
    reference = next(iter(model.parameters()), None)
    return torch.device("cpu") if reference is None else reference.device


def fast_job(job: FastJob) -> Generator[FastPlane, Any, FastResult]:
    """Apply ``job.model`` to each plane of ``job``, yielding every plane as it is done."""
    try:
        style = None if job.style is None else _read_style(job.style)
        done: list[tuple[int, ...]] = []
        seconds = 0.0
        with clip_heap(_device(job.model), tuple(job.out_hw)):
            for index in job.indices:
                if job.cancel.is_set():
                    break
                raw, _ = read_plane(job.content, index, size=job.size)
                plane = to_unit(raw, job.content_limits)
                if tuple(plane.shape[:2]) != tuple(job.out_hw):
                    plane = resize_to(to_unit_float(plane, "content"), job.out_hw)
                started = time.perf_counter()
                with torch_threads(job.threads):
                    image = job.model.apply(plane, style=style, **job.options)
                took = time.perf_counter() - started
                seconds += took
                done.append(index)
                fill_plane(job.targets, index,
                           result_pyramid(image, levels=job.levels, rgb=True) if job.levels else [image])
                yield FastPlane(len(done), len(job.indices), index, took)
        return FastResult(tuple(done), len(done) < len(job.indices), seconds)
    except Exception as exc:
        raise RunFailed(failure_message("Fast style", exc)) from exc


def fill_plane(targets: tuple[np.ndarray, ...], index: tuple[int, ...], levels: list[np.ndarray]) -> None:
    """Put a finished plane's ``levels`` (full resolution first) into ``targets``, opaque."""
    for target, plane in zip(targets, levels, strict=True):
        at = target[index] if index else target
        at[..., :3] = plane
        at[..., 3] = 1.0


def _read_style(style: np.ndarray | LazyPlane) -> np.ndarray:
    """The style plane in [0, 1], its longer side at most :data:`MAX_STYLE_SIDE`."""
    image, _ = read_style(style, side=MAX_STYLE_SIDE)
    if max(image.shape[:2]) > MAX_STYLE_SIDE:
        image = resize_to(to_unit_float(image, "style image"), max_side_shape(image.shape, MAX_STYLE_SIDE))
    return image
