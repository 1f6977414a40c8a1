"""Optimisation-based style transfer (Gatys, Ecker & Bethge 2016) as a generator of steps.

``iter_stylize`` yields a :class:`StepEvent` after every optimizer iteration and returns a
:class:`StyleResult`; ``stylize`` drains it. Closing the generator cancels within one step;
sending ``"stop"`` ends early and still returns the result, marked as cancelled. A ``cancel``
event set from another thread does the same within one backbone layer, mid-step (see
:mod:`nst_engine.cancellation`).

The run is decided first, as a :class:`~nst_engine.plan.RunPlan` (options checked, plugins
resolved, schedule laid out, memory estimated); :func:`run_plan` executes one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .cancellation import Cancelled, CancelRequest, cancellable, raise_if_cancelled
from .convergence import DEFAULT_TOLERANCE, ConvergenceWatch
from .devices import torch_threads
from .errors import OptionError, PluginError
from .generators import result_of
from .heap import kept_heap
from .images import merge_alpha
from .plan import CHECKPOINT_PIXELS, DEFAULT_LOSSES, Init, RunPlan, plan_run
from .plugin_calls import is_builtin
from .precision import scale_precision
from .provenance import run_provenance
from .references import CONTENT, STYLE, STYLE_AT_CONTENT, style_ref
from .schedule import style_shape
from .tiling.objective import TiledObjective

__all__ = ["StepEvent", "StyleResult", "iter_stylize", "stylize", "run_plan", "DEFAULT_LOSSES", "CHECKPOINT_PIXELS"]


@dataclass(frozen=True)
class StepEvent:
    """Progress after one optimizer iteration."""

    step: int
    #: The steps the run will take, as now known: the planned steps less those converged scales left out.
    total: int
    scale: int
    scales: int
    shape: tuple[int, int]
    losses: dict[str, float]
    preview: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StyleResult:
    """The stylised image (``H×W×3``, or ``×4`` with the content's alpha) and its provenance."""

    image: np.ndarray = field(repr=False)
    provenance: dict
    #: The image as optimised, before ``color`` finished it and without alpha; ``None`` when
    #: that is :attr:`image` itself. A video's next frame is held to this one.
    unfinished: np.ndarray | None = field(default=None, repr=False)

    @property
    def cancelled(self) -> bool:
        return bool(self.provenance.get("cancelled"))

    @property
    def optimised(self) -> np.ndarray:
        """The RGB image the optimisation ended with (``color`` not yet applied)."""
        return self.unfinished if self.unfinished is not None else self.image[..., :3]


def _tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)


def _numpy(image: torch.Tensor) -> np.ndarray:
    return image.detach()[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


def _resized(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    return F.interpolate(image, size=shape, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)




def _initial(init: str, content: torch.Tensor, style: torch.Tensor, seed: int) -> torch.Tensor:
    if init == "content":
        return content.clone()
    if init == "style":
        return _resized(style, tuple(content.shape[-2:])).clone()
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


def _references(content: torch.Tensor, styles: list[torch.Tensor], shape: tuple[int, int],
                style_scale: float, guides: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The reference images at one scale, by the names loss terms ask for; guides by theirs."""
    scaled = [_resized(s, style_shape(tuple(s.shape[-2:]), shape, style_scale)) for s in styles]
    references = {CONTENT: _resized(content, shape), STYLE_AT_CONTENT: _resized(styles[0], shape)}
    references.update({style_ref(i): s for i, s in enumerate(scaled)})
    references.update({name: _resized(g, shape) for name, g in (guides or {}).items()})
    if len(scaled) == 1:
        references[STYLE] = scaled[0]
    return references


def _check_finite(plan: RunPlan, values: list[float], step: int) -> None:
    """Name the term that went NaN or infinite; for built-ins, say what usually fixes it."""
    bad = [(term, value) for term, value in zip(plan.objective.terms, values) if not np.isfinite(value)]
    if not bad:
        return
    term, value = bad[0]
    if not is_builtin(term.plugin):
        raise PluginError(f"{term.origin} returned {value} at step {step}: a loss must stay finite")
    raise OptionError(
        f"loss term {term.name!r} became {value} at step {step}: lower the optimizer lr "
        f"(now {plan.options['optimizer_options'].get('lr', 'its default')}) or the loss weights",
        option="optimizer lr",
    )


def run_plan(plan: RunPlan, *, cancel: CancelRequest | None = None) -> Generator[StepEvent, Any, StyleResult]:
    """Execute ``plan``: the per-scale step loop of :func:`iter_stylize`, with its events and result.

    The plan's backbone moves to its device and its loss terms take each scale's targets: a
    plan runs once at a time, and a rerun starts afresh from its inputs.
    """
    started = time.perf_counter()
    options = plan.options
    memory_format = torch.channels_last if options["channels_last"] else torch.contiguous_format
    objective, terms, colors = plan.objective, plan.objective.terms, plan.colors
    shapes, per_scale = plan.schedule.shapes, plan.schedule.steps
    tiles = plan.schedule.tiles or (None,) * len(shapes)
    # On the CPU, freed memory stays in the heap for the next step where there is room (.heap).
    with torch_threads(options["threads"]), kept_heap(plan.memory.peak_bytes, plan.memory.available_bytes, plan.device):
        net = plan.network.to(plan.device, memory_format=memory_format)
        content_t = _tensor(plan.content, plan.device)
        styles_t = [_tensor(s, plan.device) for s in plan.styles]
        masks_t = [_tensor(m[..., None], plan.device) for m in plan.masks] if plan.masks else []
        guides_t = {name: _tensor(g if g.ndim == 3 else g[..., None], plan.device) for name, g in plan.guides.items()}
        # Where no style applies the result is the content: the optimised image is composed
        # with it through the (soft) union of the masks, so no gradient leaks out there.
        region_t = torch.stack(masks_t).sum(0).clamp(max=1.0) if masks_t else None
        setup_s = time.perf_counter() - started
        step, image, cancelled, loop_started = 0, None, False, time.perf_counter()
        final_raw, skipped, steps_run, scale_s = None, 0, [0] * len(shapes), [0.0] * len(shapes)
        # The last completed iterate and its composition: the result, however the run ends.
        done: tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]] | None = None
        opt = None
        try:
            for index, (shape, scale_steps, tile) in enumerate(zip(shapes, per_scale, tiles)):
                opt = None  # the previous scale's history: image-sized buffers no longer used
                scale_precision(net, finest=index == len(shapes) - 1)
                references = _references(content_t, styles_t, shape, options["style_scale"], guides_t)
                region_s = _resized(region_t, shape) if region_t is not None else None
                # Only a composition keeps this scale's content beyond its targets.
                content_s = references[CONTENT] if region_s is not None else None

                def composed(x: torch.Tensor, region=region_s, content=content_s) -> torch.Tensor:
                    return x if region is None else region * x + (1 - region) * content

                if image is not None:
                    start = _resized(image.detach(), shape)
                elif plan.init_image is not None:
                    start = _resized(_tensor(plan.init_image, plan.device), shape)
                else:
                    start = _initial(plan.init, references[CONTENT], references[style_ref(0)], options["seed"])
                if step == 0:  # nothing optimised yet: the result is this scale's initial image
                    done = (start, composed)
                if scale_steps == 0:  # no targets needed: their features are the bulk of memory
                    image = start
                    continue
                # A tiled scale computes value and gradient tile by tile, exactly (nst_engine.tiling);
                # it lays out each tile's input itself, so the references are not copied whole.
                tiled = (TiledObjective(objective, tile, keep=plan.schedule.kept_graphs, memory_format=memory_format)
                         if tile else None)
                if tiled is None:
                    references = {name: ref.contiguous(memory_format=memory_format) for name, ref in references.items()}
                with cancellable(net, cancel):
                    (tiled or objective).set_targets(references, [_resized(m, shape) for m in masks_t])
                references = None  # the targets are set: each reference is an image-sized copy
                if index == len(shapes) - 1:  # no finer scale will resize the inputs again
                    content_t, styles_t, guides_t = None, [], {}
                image = start.contiguous().requires_grad_(True)
                opt = plan.optimizer.create([image])
                # The scale's result is the evaluated image with the lowest loss, not the last
                # one the optimizer moved to: L-BFGS's last move is never evaluated, and a move
                # can overshoot (a white frame, seen in a video run); the loss it reports is the
                # result's, and a step cut short leaves a completed one.
                best: dict[str, Any] = {"total": float("inf")}
                watch = ConvergenceWatch(plan.schedule.tolerance) if plan.schedule.until == "converged" else None
                last: dict[str, Any] = {}

                def closure() -> torch.Tensor:
                    # L-BFGS's line search evaluates several times per step: stop between them too.
                    try:
                        raise_if_cancelled(cancel)
                        opt.zero_grad()
                        x = composed(image)
                        if tiled is None:
                            total, values = objective(x.contiguous(memory_format=memory_format))
                            total.backward()
                        else:
                            total, values, grad = tiled.value_and_grad(x)
                            if x is image:  # what backward would accumulate, without its copy
                                image.grad = grad
                            else:
                                x.backward(grad)
                            del grad
                    except BaseException as exc:
                        last["failure"] = exc  # not the optimizer's fault: see below
                        raise
                    # L-BFGS flattens gradients with .view(); channels-last ones are not contiguous.
                    image.grad = image.grad.contiguous()
                    last["raw"] = values.detach()
                    value = float(total.detach())
                    if value < best["total"]:
                        best.update(total=value, image=image.detach().clone(), raw=last["raw"])
                    return total

                scale_started = time.perf_counter()
                for local in range(scale_steps):
                    try:
                        with cancellable(net, cancel):
                            opt.step(closure)
                    except Exception as exc:
                        if exc is last.get("failure"):
                            raise  # the closure's: a loss's or the backbone's, already named
                        with plan.optimizer.blamed("taking a step"):
                            raise
                    step += 1
                    steps_run[index] += 1
                    scale_s[index] = time.perf_counter() - scale_started
                    done = (best["image"], composed) if "image" in best else done
                    _check_finite(plan, (last["raw"] * objective.multipliers.to(last["raw"])).tolist(), step)
                    final_raw = best.get("raw", last["raw"])  # the losses of the result so far
                    values = (final_raw * objective.multipliers.to(final_raw)).tolist()
                    event_losses = {t.name: v for t, v in zip(terms, values)}
                    event_losses["total"] = float(sum(values))
                    ends_scale = local == scale_steps - 1 or (watch is not None and watch.converged(event_losses["total"]))
                    if ends_scale:
                        skipped += scale_steps - 1 - local
                    wants_preview = ends_scale or (options["preview_every"] and step % options["preview_every"] == 0)
                    command = yield StepEvent(
                        step, plan.schedule.total - skipped, index, len(shapes), shape, event_losses,
                        colors.finish(_numpy(composed(done[0]))) if wants_preview else None,
                    )
                    if _stop_requested(command):
                        raise Cancelled("stop sent")
                    if ends_scale:
                        break
                image = done[0]  # the next scale starts from this one's result
        except Cancelled:
            cancelled = True
        opt = image = None  # the optimizer's state and the gradient, before the result's copies
        last_image, last_composed = done
        optimised = _numpy(_resized(last_composed(last_image), shapes[-1]))
        finished = colors.finish(optimised)
        result = merge_alpha(finished, plan.alpha)
        threads_used = torch.get_num_threads()
    loop_s = time.perf_counter() - loop_started
    timings = {
        "setup_s": round(setup_s, 4), "loop_s": round(loop_s, 4),
        "per_step_s": round(loop_s / step, 5) if step else None,
        # Targets and steps of each scale, coarse to fine: what nst_engine.step_costs learns from.
        "scale_s": [round(t, 4) for t in scale_s],
        "total_s": round(time.perf_counter() - started, 4),
    }
    provenance = run_provenance(plan, steps_run=step, steps_run_per_scale=steps_run, cancelled=cancelled, raw=final_raw,
                                output_shape=result.shape, threads=threads_used, timings=timings)
    return StyleResult(result, provenance, None if finished is optimised else optimised)


def iter_stylize(
    content: np.ndarray,
    style: np.ndarray | Sequence[np.ndarray],
    *,
    style_weights: Sequence[float] | None = None,
    mask: np.ndarray | Sequence[np.ndarray] | None = None,
    dynamic_weights: bool = False,
    backbone: str = "vgg19",
    backbone_options: Mapping[str, Any] | None = None,
    losses: Mapping[str, float] | None = None,
    loss_options: Mapping[str, Mapping[str, Any]] | None = None,
    optimizer: str = "lbfgs",
    optimizer_options: Mapping[str, Any] | None = None,
    steps: int = 300,
    size: int | None = 512,
    scales: int = 3,
    until: str = "converged",
    tolerance: float = DEFAULT_TOLERANCE,
    style_scale: float = 1.0,
    init: Init = "content",
    init_image: np.ndarray | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    channels_last: bool = True,
    checkpointing: bool | None = None,
    precision: str = "fp32",
    preview_every: int = 10,
    color: str = "none",
    color_options: Mapping[str, Any] | None = None,
    check_memory: bool = True,
    tile: int | str | None = "auto",
    tile_graphs: int | None = None,
    guides: Mapping[str, np.ndarray] | None = None,
    cancel: CancelRequest | None = None,
) -> Generator[StepEvent, Any, StyleResult]:
    """Stylise ``content`` with ``style``, yielding a :class:`StepEvent` per iteration.

    Parameters
    ----------
    content, style
        Images of any dtype: gray, RGB or RGBA (the content's alpha is re-attached). ``style``
        may be a list of images: blended by ``style_weights`` (default equal), or each in its
        own region with ``mask``.
    style_weights
        Relative weight of each style image (normalised to sum 1).
    mask
        Where style applies, in content coordinates: one mask (nonzero or a [0, 1] weight), an
        integer label image (label i = style i, 0 = content only), or one mask per style.
    dynamic_weights
        Divide each loss term by its reference magnitude (see :mod:`nst_engine.objective`), so
        that the weights are the balance actually optimised, whatever the style image.
    backbone, losses, optimizer
        Registry names; ``losses`` maps loss names to weights (default :data:`DEFAULT_LOSSES`).
        ``*_options`` hold each entry's options; ``loss_options`` is keyed by loss name.
    steps
        Optimizer iterations in all, at most, spread over the ``scales`` coarse-to-fine scales.
    size
        Longer side of the result in pixels (``None``: the content's own size).
    until, tolerance
        ``"converged"``: end a scale once its total loss fell by less than ``tolerance``
        (relative, a fraction below 1) over the last 10 steps, and never before 20 of its steps
        (:mod:`nst_engine.convergence`); ``"steps"``: run every step. Events' ``total``
        shrinks by the steps a converged scale leaves out.
    style_scale
        The style image's longer side relative to the content's: larger means larger brush strokes.
    init, init_image
        Start from the content, noise or the style; ``init_image`` (any size) overrides
        ``init``: warm-starting from a neighbouring plane's result keeps a stack coherent.
    seed
        Seeds the noise init; CPU reruns with equal options are bit-identical.
    threads
        CPU threads for this run (``None``: torch's), restored afterwards.
    channels_last
        NHWC layout for the backbone: measured faster on CPU (see docs/performance.md).
    checkpointing
        Recompute the backbone's intermediate activations in backward instead of storing
        them (less memory, more time). ``None``: on above :data:`CHECKPOINT_PIXELS` pixels.
    precision
        The backbone's forward in ``"fp32"`` or ``"bf16"`` (losses, Grams and the optimizer
        stay float32); ``"auto"``: bf16 on CPUs with AMX or AVX-512 BF16 and on CUDA GPUs
        with bf16, fp32 elsewhere (:mod:`nst_engine.precision`). Bit-identical CPU reruns
        hold for either; an fp32 and a bf16 run differ slightly (docs/performance.md).
    preview_every
        Attach a preview image to every n-th event and to each scale's last (0: only those).
    color, color_options
        Keep the content's colors: ``"none"``, ``"luminance"``, ``"before:<transfer>"`` or
        ``"after:<transfer>"`` with any registered color transfer and its options (see
        :mod:`nst_engine.preservation`).
    check_memory
        Refuse a run whose estimated peak memory exceeds what is available
        (:mod:`nst_engine.memory`); the estimate is in the provenance either way.
    tile
        Run the scales with more than ``tile``² pixels in overlapping tiles of about that
        side: the same optimisation (exact global statistics, the untiled gradient) in one
        tile's memory (:mod:`nst_engine.tiling`). ``"auto"``: only if the run would not fit
        otherwise; ``None``: never. Tiled runs cap L-BFGS's history
        (:data:`~nst_engine.tiling.choice.LBFGS_HISTORY_BYTES`).
    tile_graphs
        How many tiles of a tiled step keep their forward graph for its second pass instead of
        computing it again: the same result, more memory for less time. ``None``: as many as
        keep the estimated peak within half the memory available; ``0``: the least memory.
    guides
        Named images (``H×W×3``) and weight maps (``H×W``) in the content's pixel grid that
        loss terms read at each scale (:mod:`nst_engine.guides`): the ``temporal`` loss reads
        the previous frame's warped result and its reliability there.
    cancel
        A ``threading.Event`` (anything with ``is_set()``) another thread may set: the run
        stops within one backbone layer, even mid-step, and returns the last completed step's
        image, marked cancelled as after sending ``"stop"``. A UI's thread is stuck inside the
        step, where nothing sent through the generator arrives; the event reaches it there.

    Returns
    -------
    StyleResult
        The image and its provenance: every option, plugin names and versions, seed, device,
        steps run, the memory estimate, timings.
    """
    options = {name: value for name, value in locals().items() if name not in ("content", "style", "cancel")}
    started = time.perf_counter()
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise OptionError(f"cancel must have is_set() (a threading.Event); got {type(cancel).__name__}", option="cancel")
    plan = plan_run(content, style, **options)
    planned_s = time.perf_counter() - started
    result = yield from run_plan(plan, cancel=cancel)
    timings = result.provenance["timings"]
    timings["setup_s"] = round(timings["setup_s"] + planned_s, 4)
    timings["total_s"] = round(time.perf_counter() - started, 4)
    return result


def _stop_requested(command: Any) -> bool:
    """Whether a value sent into the generator asks to stop; a typo must not pass silently."""
    if command is not None and command != "stop":
        raise ValueError(f"iter_stylize accepts only 'stop' (or None) through send(); got {command!r}")
    return command == "stop"


def stylize(
    content: np.ndarray,
    style: np.ndarray | Sequence[np.ndarray],
    *,
    style_weights: Sequence[float] | None = None,
    mask: np.ndarray | Sequence[np.ndarray] | None = None,
    dynamic_weights: bool = False,
    backbone: str = "vgg19",
    backbone_options: Mapping[str, Any] | None = None,
    losses: Mapping[str, float] | None = None,
    loss_options: Mapping[str, Mapping[str, Any]] | None = None,
    optimizer: str = "lbfgs",
    optimizer_options: Mapping[str, Any] | None = None,
    steps: int = 300,
    size: int | None = 512,
    scales: int = 3,
    until: str = "converged",
    tolerance: float = DEFAULT_TOLERANCE,
    style_scale: float = 1.0,
    init: Init = "content",
    init_image: np.ndarray | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    channels_last: bool = True,
    checkpointing: bool | None = None,
    precision: str = "fp32",
    preview_every: int = 10,
    color: str = "none",
    color_options: Mapping[str, Any] | None = None,
    check_memory: bool = True,
    tile: int | str | None = "auto",
    tile_graphs: int | None = None,
    guides: Mapping[str, np.ndarray] | None = None,
    cancel: CancelRequest | None = None,
) -> StyleResult:
    """Run :func:`iter_stylize` to the end and return its :class:`StyleResult`.

    The options are ``iter_stylize``'s; ``cancel`` stops it from another thread.
    """
    return result_of(iter_stylize(content, style, **{name: value for name, value in locals().items()
                                                    if name not in ("content", "style")}))
