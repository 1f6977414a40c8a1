"""What runs in the worker thread of a style transfer: a generator over planes, no Qt, no layers.

The widget hands a :class:`StyleJob` (plain arrays and options, captured on the main thread)
to napari's generator worker. :func:`stylize_job` drives ``iter_stylize`` once per plane,
warm-starting each plane from the previous plane's result (or, with ``temporal``, runs the planes
as one clip through :func:`nst_engine.iter_stylize_video`), and yields a :class:`PlaneEvent`
per optimizer step whose preview is already resized to the result's shape (for a large
result: left at the current scale's shape, halved to at most ``preview_side``): the main thread only
assigns arrays, which keeps its event loop free. A lazy (dask, zarr) or multiscale input is
read here, at the run's size (:mod:`napari_nst._lazy`), and so is a lazy or large mask
(:class:`~napari_nst._style_inputs.LazyMask`); a large result can come back as a pyramid. ``"stop"`` sent into the worker is
passed on to the engine; so is the job's ``cancel`` event, which the engine checks inside a step
(between backbone layers), so a cancel takes effect in seconds even at large sizes.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nst_engine.errors import NstError
from nst_engine.images import resize_to, split_image, to_uint, to_unit_float
from nst_engine.pipeline import StepEvent, iter_stylize
from nst_engine.schedule import scale_shapes

from ._layers import plane_of, put_plane, to_unit, unit_note
from ._lazy import LazyLevels, LazyPlane, halved_hw, pyramid, read_plane, read_style, style_side
from ._style_inputs import LazyMask

__all__ = ["RunFailed", "StyleJob", "PlaneEvent", "JobResult", "stylize_job", "failure_message"]


class RunFailed(Exception):
    """A worker's failure, with a message that says what went wrong and what to do.

    Deliberately not a ``RuntimeError``: napari's generator worker takes a ``RuntimeError``
    for a deleted worker and turns it into a warning instead of an error notification.
    """


def failure_message(what: str, exc: BaseException) -> str:
    """``what`` failed, the cause, and the fix.

    Every :class:`~nst_engine.errors.NstError` (an image, an option, a plugin, memory, a run
    that diverged) carries its own fix and is shown as the engine words it, whatever else it
    subclasses; anything else is a bug to report.
    """
    if isinstance(exc, NstError):
        return f"{what} failed: {exc}"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return f"{what} failed: out of memory ({exc}). Lower the size, or use fewer scales or planes"
    return (
        f"{what} failed: {type(exc).__name__}: {exc}. The inputs are unchanged; if the options "
        "look right, please report this with the traceback (View Traceback)"
    )


@dataclass(frozen=True)
class StyleJob:
    """Everything a run needs, captured on the main thread so the worker touches no layer."""

    content: np.ndarray | LazyLevels  # a layer's data, or a lazy layer's levels (read here at the run's size)
    content_limits: tuple[float, float]
    # A list: several styles (with options' style_weights or mask); a LazyPlane is read at the run's size.
    style: np.ndarray | LazyPlane | list[np.ndarray | LazyPlane]
    indices: tuple[tuple[int, ...], ...]
    stack_shape: tuple[int, ...]
    out_hw: tuple[int, int]
    channels: int
    options: dict[str, Any] = field(default_factory=dict)
    # Labels with one plane per content plane: each plane's own mask (``options`` has none).
    mask_stack: np.ndarray | None = field(default=None, repr=False)
    # A mask too large for the main thread (or lazy): made here at the run's size, then as above.
    mask_source: LazyMask | None = field(default=None, repr=False)
    # 0: previews resized to ``out_hw``; n (a large result): at the current scale's own shape,
    # halved until their longer side is at most n (what the main thread can show in time).
    preview_side: int = 0
    # 0: the result is one array; n: a pyramid (multiscale layer) of at least n levels.
    multiscale: int = 0
    # All planes as a clip (Ruder et al. 2016): each starts from and is held to the previous result
    # warped by the optical flow, instead of starting from it as it is.
    temporal: bool = False
    # Set from the main thread to stop within a step (the engine checks it between layers).
    cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def plane(self) -> tuple[int, ...]:
        """The stack index of a one-plane run (``()`` for a single image or ``All planes``)."""
        return () if self.is_stack else self.indices[0]

    @property
    def is_stack(self) -> bool:
        """Whether the result keeps the stack axes (``All planes``)."""
        return bool(self.stack_shape)

    @property
    def first_hw(self) -> tuple[int, int]:
        """The shape of the start frame and first previews: ``out_hw``, or the first scale's (halved)."""
        if not self.preview_side:
            return self.out_hw
        return halved_hw(scale_shapes(self.out_hw, int(self.options.get("scales", 1)))[0], self.preview_side)


@dataclass(frozen=True)
class PlaneEvent:
    """One optimizer step of one plane; ``preview`` is at the result's height and width (with
    ``preview_side``: at the current scale's, halved to at most that side).

    Previews are 8-bit: the viewer uploads a quarter of the float32 texture for each one (at
    2048² that is what the repaint costs in software OpenGL); the result itself stays float32.
    """

    plane: int
    planes: int
    index: tuple[int, ...]
    step: StepEvent | None  # None: the start frame, the content plane before any step
    preview: np.ndarray | None = field(default=None, repr=False)
    # (steps done, steps in all) over the whole run, where planes run different numbers of steps.
    progress: tuple[int, int] | None = None


@dataclass(frozen=True)
class JobResult:
    """The result image (or stack) and its provenance; unprocessed planes of a cancelled stack are 0.

    ``image`` is a list of levels, full resolution first, for a multiscale result; ``inputs``
    says how lazy inputs were read (reduced from which level), for the napari provenance.
    """

    image: np.ndarray | list[np.ndarray] = field(repr=False)
    provenance: dict
    cancelled: bool
    inputs: dict = field(default_factory=dict)


def _fit(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return image if tuple(image.shape[:2]) == tuple(hw) else resize_to(image, hw)


def _start_frame(plane: np.ndarray, hw: tuple[int, int]) -> np.ndarray | None:
    """The content plane at the result's size: what the result layer shows until the first
    preview (a run starts from the content by default, so the previews then change it little).
    None for a plane the engine will reject (NaN, say): the engine reports it."""
    try:
        color, _ = split_image(to_unit_float(plane))
        return to_uint(_fit(color, hw))
    except (NstError, ValueError):
        return None


def stylize_job(job: StyleJob) -> Generator[PlaneEvent, Any, JobResult]:
    """Run ``job`` plane by plane; failures become :class:`RunFailed` with cause and fix."""
    try:
        return (yield from (_stylize_clip(job) if job.temporal else _stylize(job)))
    except Exception as exc:
        raise RunFailed(failure_message("Style transfer", exc)) from exc


def _read_styles(job: StyleJob) -> tuple[np.ndarray | list[np.ndarray], dict]:
    """The job's styles as arrays (lazy ones read at the run's style size) and how lazy ones were read."""
    side = style_side(job.out_hw, float(job.options.get("style_scale", 1.0)))
    several = isinstance(job.style, list)
    read = [read_style(s, side=side) for s in (job.style if several else [job.style])]
    ways = [how for _, how in read]
    inputs = {"style_read": ways if several else ways[0]} if any(ways) else {}
    return ([image for image, _ in read] if several else read[0][0]), inputs


def _relay(events: Generator, relayed: Any) -> Generator[PlaneEvent, Any, Any]:
    """Drive an engine generator to its end: yield ``relayed(event)`` for each of its events, pass
    the worker's commands (``"stop"``) back into it, and return its value."""
    command = None
    while True:
        try:
            event = events.send(command)
        except StopIteration as done:
            return done.value
        command = yield relayed(event)


def _preview(job: StyleJob, event: StepEvent) -> np.ndarray | None:
    """A step's preview as the main thread shows it (8-bit, at the result's shape or halved)."""
    if event.preview is None:
        return None
    return to_uint(pyramid(event.preview, top=job.preview_side)[-1] if job.preview_side else _fit(event.preview, job.out_hw))


def _with_mask(job: StyleJob) -> StyleJob:
    """``job`` with its captured mask made (``options["mask"]`` or ``mask_stack``), all planes at
    once so that painting on the layer during the run changes no plane still to come."""
    mask = job.mask_source
    if mask is None:
        return job
    if mask.index is not None:
        return replace(job, options=dict(job.options, mask=mask.plane(mask.index)), mask_source=None)
    stack = None
    for index in job.indices:
        stack = put_plane(stack, job.stack_shape, index, mask.plane(index))
    return replace(job, mask_stack=stack, mask_source=None)


def _stylize(job: StyleJob) -> Generator[PlaneEvent, Any, JobResult]:
    job = _with_mask(job)
    stack = np.zeros(job.stack_shape + job.out_hw + (job.channels,), np.float32) if job.is_stack else None
    style, inputs = _read_styles(job)
    previous: np.ndarray | None = None
    planes: list[dict] = []
    provenance: dict = {}
    image: np.ndarray | None = None
    cancelled = False
    for k, index in enumerate(job.indices):
        raw, how = read_plane(job.content, index, size=job.options.get("size"))
        plane = to_unit(raw, job.content_limits)
        if k == 0:
            if how is not None:
                inputs["content_read"] = dict(how, input_scaling=unit_note(raw, job.content_limits))
            yield PlaneEvent(0, len(job.indices), index, None, _start_frame(plane, job.first_hw))
        options = job.options
        if job.mask_stack is not None:
            options = dict(options, mask=plane_of(job.mask_stack, index))
        events = iter_stylize(plane, style, init_image=previous, cancel=job.cancel, **options)
        result = yield from _relay(
            events, lambda event, k=k, index=index: PlaneEvent(k, len(job.indices), index, event, _preview(job, event))
        )
        image = _fit(result.image, job.out_hw)
        previous = result.image
        provenance = result.provenance
        planes.append(
            {
                "index": list(index),
                "steps_run": provenance.get("steps_run"),
                "cancelled": result.cancelled,
                "total_s": provenance.get("timings", {}).get("total_s"),
            }
        )
        if stack is not None:
            stack[index][..., : image.shape[-1]] = image[..., : job.channels]
        if result.cancelled:
            cancelled = True
            break
    provenance = dict(provenance, cancelled=cancelled)
    if stack is not None:
        provenance["planes"] = planes
        provenance["warm_start"] = "each plane starts from the previous plane's result"
        image = stack
    assert image is not None
    return JobResult(pyramid(image, levels=job.multiscale) if job.multiscale else image, provenance, cancelled, inputs)


def _stylize_clip(job: StyleJob) -> Generator[PlaneEvent, Any, JobResult]:
    """All planes as one clip: the video runner's temporal coherence, with the panel's options."""
    from nst_engine.video.stylize import default_frame_steps, iter_stylize_video  # OpenCV: only when used

    style, inputs = _read_styles(job)
    frames = []
    for k, index in enumerate(job.indices):
        raw, how = read_plane(job.content, index, size=job.options.get("size"))
        if k == 0 and how is not None:
            inputs["content_read"] = dict(how, input_scaling=unit_note(raw, job.content_limits))
        frames.append(to_unit(raw, job.content_limits))
    count = len(job.indices)
    yield PlaneEvent(0, count, job.indices[0], None, _start_frame(frames[0], job.first_hw))
    steps = int(job.options.get("steps", 300))
    later = default_frame_steps(steps)
    total = steps + (count - 1) * later
    stack = np.zeros(job.stack_shape + job.out_hw + (job.channels,), np.float32)
    stack[..., 3:] = 1.0  # the clip's results are RGB: opaque
    done_steps = 0

    def relayed(event: Any) -> PlaneEvent:
        nonlocal done_steps
        index = job.indices[event.frame]
        if event.step is None:  # the frame is finished: shown as it is, until the next frame's first preview
            final = _fit(event.image, job.out_hw)[..., :3]
            stack[index][..., :3] = final
            done_steps += steps if event.frame == 0 else later
            return PlaneEvent(event.frame, count, index, None, to_uint(final), (min(total, done_steps), total))
        progress = (min(total, done_steps + event.step.step), total)
        return PlaneEvent(event.frame, count, index, event.step, _preview(job, event.step), progress)

    result = yield from _relay(iter_stylize_video(frames, style, cancel=job.cancel, keep_frames=False, **job.options), relayed)
    provenance = dict(result.provenance)
    provenance["temporal_coherence"] = ("each plane starts from and is held to the previous plane's result warped "
                                        "by the optical flow of the input planes (Ruder et al. 2016)")
    return JobResult(pyramid(stack, levels=job.multiscale) if job.multiscale else stack, provenance,
                     result.cancelled, inputs)
