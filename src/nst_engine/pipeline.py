"""Optimisation-based style transfer (Gatys, Ecker & Bethge 2016) as a generator of steps.

``iter_stylize`` yields a :class:`StepEvent` after every optimizer iteration and returns a
:class:`StyleResult`; ``stylize`` drains it. Closing the generator cancels within one step;
sending ``"stop"`` ends early and still returns the result, marked as cancelled. A ``cancel``
event set from another thread does the same within one backbone layer, mid-step (see
:mod:`nst_engine.cancellation`).
"""

from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterator, Literal, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .cancellation import CancelRequest, Cancelled, cancellable, raise_if_cancelled
from .catalog import get_entry
from .devices import resolve_device
from .errors import OptionError
from .images import merge_alpha, resize_max_side, split_image
from .masks import style_masks
from .objective import Objective, build_terms, expand_styles
from .preservation import ColorPreservation
from .schedule import scale_shapes, split_steps

__all__ = ["StepEvent", "StyleResult", "iter_stylize", "stylize", "DEFAULT_LOSSES"]

#: Content and style balanced for the default layers (equal layer weights), plus a little TV.
DEFAULT_LOSSES: dict[str, float] = {"content": 1.0, "gram": 1e4, "tv": 1.0}

Init = Literal["content", "noise", "style"]

#: Above this many pixels the backbone recomputes activations in backward to save memory:
#: 2048² then fits in 8 GB on the CPU (measured, docs/performance.md).
CHECKPOINT_PIXELS = 1536 * 1536


@dataclass(frozen=True)
class StepEvent:
    """Progress after one optimizer iteration."""

    step: int
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

    @property
    def cancelled(self) -> bool:
        return bool(self.provenance.get("cancelled"))


def _tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)


def _numpy(image: torch.Tensor) -> np.ndarray:
    return image.detach()[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


def _resized(image: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(shape):
        return image
    return F.interpolate(image, size=shape, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def _style_shape(style: torch.Tensor, content_shape: tuple[int, int], style_scale: float) -> tuple[int, int]:
    """Scale the style so its longer side matches the content's times ``style_scale``."""
    h, w = style.shape[-2:]
    factor = max(content_shape) * style_scale / max(h, w)
    return max(1, round(h * factor)), max(1, round(w * factor))


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _initial(init: str, content: torch.Tensor, style: torch.Tensor, seed: int) -> torch.Tensor:
    if init == "content":
        return content.clone()
    if init == "style":
        return _resized(style, tuple(content.shape[-2:])).clone()
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


def _style_shares(weights: Sequence[float] | None, styles: int) -> list[float]:
    if weights is None:
        return [1.0 / styles] * styles
    weights = [float(w) for w in weights]
    if len(weights) != styles or any(w < 0 for w in weights) or not sum(weights) > 0:
        raise OptionError(f"style_weights needs {styles} non-negative weight(s), not all zero; got {weights}")
    return [w / sum(weights) for w in weights]


def _check_options(steps: int, scales: int, init: str, style_scale: float, preview_every: int) -> None:
    if steps < 0:
        raise OptionError(f"steps must be >= 0; got {steps}")
    if scales < 1:
        raise OptionError(f"scales must be >= 1; got {scales}")
    if init not in ("content", "noise", "style"):
        raise OptionError(f"init must be content, noise or style; got {init!r}")
    if not style_scale > 0:
        raise OptionError(f"style_scale must be > 0; got {style_scale}")
    if preview_every < 0:
        raise OptionError(f"preview_every must be >= 0; got {preview_every}")


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
    style_scale: float = 1.0,
    init: Init = "content",
    init_image: np.ndarray | None = None,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    channels_last: bool = True,
    checkpointing: bool | None = None,
    preview_every: int = 10,
    color: str = "none",
    color_options: Mapping[str, Any] | None = None,
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
        Optimizer iterations in all, spread over the ``scales`` coarse-to-fine scales.
    size
        Longer side of the result in pixels (``None``: the content's own size).
    style_scale
        The style image's longer side relative to the content's: larger means larger brush strokes.
    init, init_image
        Start from the content, noise or the style; ``init_image`` (any size) overrides
        ``init``: warm-starting from a neighbouring plane's result keeps a stack coherent.
    seed
        Seeds the noise init; CPU reruns with equal options are bit-identical.
    channels_last
        NHWC layout for the backbone: measured faster on CPU (see docs/performance.md).
    checkpointing
        Recompute the backbone's intermediate activations in backward instead of storing
        them (less memory, more time). ``None``: on above :data:`CHECKPOINT_PIXELS` pixels.
    preview_every
        Attach a preview image to every n-th event and to each scale's last (0: only those).
    color, color_options
        Keep the content's colors: ``"none"``, ``"luminance"``, ``"before:<transfer>"`` or
        ``"after:<transfer>"`` with any registered color transfer and its options (see
        :mod:`nst_engine.preservation`).
    cancel
        A ``threading.Event`` (anything with ``is_set()``) another thread may set: the run
        stops within one backbone layer, even mid-step, and returns the last completed step's
        image, marked cancelled as after sending ``"stop"``. A UI's thread is stuck inside the
        step, where nothing sent through the generator arrives; the event reaches it there.

    Returns
    -------
    StyleResult
        The image and its provenance: options, plugin names and versions, seed, device, steps
        run, timings.
    """
    started = time.perf_counter()
    _check_options(steps, scales, init, style_scale, preview_every)
    content_rgb, alpha = split_image(content, what="content image")
    style_list = list(style) if isinstance(style, (list, tuple)) else [style]
    styles_rgb = [split_image(s, what=f"style image {i}")[0] for i, s in enumerate(style_list)]
    shares = _style_shares(style_weights, len(styles_rgb))
    content_rgb = resize_max_side(content_rgb, size)
    masks = style_masks(mask, len(styles_rgb), content_rgb.shape[:2])
    colors = ColorPreservation(color, dict(color_options or {}))
    content_rgb, styles_rgb = colors.prepare(content_rgb, styles_rgb)
    warm = split_image(init_image, what="init image")[0] if init_image is not None else None
    dev = resolve_device(device)
    backbone_entry = get_entry("backbones", backbone)
    backbone_bound = backbone_entry.bind(dict(backbone_options or {}))
    optimizer_entry = get_entry("optimizers", optimizer)
    optimizer_bound = optimizer_entry.bind(dict(optimizer_options or {}))
    terms = build_terms(dict(DEFAULT_LOSSES if losses is None else losses), dict(loss_options or {}))
    terms = expand_styles(terms, shares)

    with _torch_threads(threads):
        # Frozen whatever the factory did: weight gradients would cost ~30% per step for nothing.
        net = backbone_entry.factory(**backbone_bound).eval().requires_grad_(False)
        objective = Objective(net, terms, dynamic=dynamic_weights)
        if objective.layers:
            net.truncate(objective.layers)
        if hasattr(net, "checkpointing"):
            net.checkpointing = (content_rgb.shape[0] * content_rgb.shape[1] > CHECKPOINT_PIXELS
                                 if checkpointing is None else checkpointing)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        net = net.to(dev, memory_format=memory_format)
        content_t = _tensor(content_rgb, dev)
        styles_t = [_tensor(s, dev) for s in styles_rgb]
        masks_t = [_tensor(m[..., None], dev) for m in masks] if masks else []
        # Where no style applies the result is the content: the optimised image is composed
        # with it through the (soft) union of the masks, so no gradient leaks out there.
        region_t = torch.stack(masks_t).sum(0).clamp(max=1.0) if masks_t else None
        shapes = scale_shapes(content_rgb.shape[:2], scales)
        per_scale = split_steps(steps, len(shapes))
        setup_s = time.perf_counter() - started
        step, image, cancelled, loop_started = 0, None, False, time.perf_counter()
        final_raw = None
        # The last completed iterate and its composition: the result, however the run ends.
        done: tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]] | None = None
        try:
            for index, (shape, scale_steps) in enumerate(zip(shapes, per_scale)):
                references = _references(content_t, styles_t, shape, style_scale)
                content_s, style_s = references["content"], references["style:0"]
                region_s = _resized(region_t, shape) if region_t is not None else None

                def composed(x: torch.Tensor, region=region_s, content=content_s) -> torch.Tensor:
                    return x if region is None else region * x + (1 - region) * content

                if image is not None:
                    start = _resized(image.detach(), shape)
                elif warm is not None:
                    start = _resized(_tensor(warm, dev), shape)
                else:
                    start = _initial(init, content_s, style_s, seed)
                if step == 0:  # nothing optimised yet: the result is this scale's initial image
                    done = (start, composed)
                with cancellable(net, cancel):
                    objective.set_targets(
                        {name: ref.contiguous(memory_format=memory_format) for name, ref in references.items()},
                        [_resized(m, shape) for m in masks_t],
                    )
                image = start.contiguous().requires_grad_(True)
                opt = optimizer_entry.factory([image], **optimizer_bound)
                last: dict[str, torch.Tensor] = {}

                def closure() -> torch.Tensor:
                    # L-BFGS's line search evaluates several times per step: stop between them too.
                    raise_if_cancelled(cancel)
                    opt.zero_grad()
                    total, values = objective(composed(image).contiguous(memory_format=memory_format))
                    total.backward()
                    # L-BFGS flattens gradients with .view(); channels-last ones are not contiguous.
                    image.grad = image.grad.contiguous()
                    last["raw"] = values.detach()
                    return total

                for local in range(scale_steps):
                    with cancellable(net, cancel):
                        opt.step(closure)
                    step += 1
                    # A copy: the next step updates ``image`` in place before it can fail.
                    done = (image.detach().clone(), composed)
                    final_raw = last["raw"]
                    values = (final_raw * objective.scales.to(final_raw)).tolist()
                    event_losses = {t.name: v for t, v in zip(terms, values)}
                    event_losses["total"] = float(sum(values))
                    if not np.isfinite(event_losses["total"]):
                        raise FloatingPointError(
                            f"the loss became {event_losses['total']} at step {step}: lower the "
                            "optimizer's lr (-p optimizer.lr=...) or the loss weights"
                        )
                    wants_preview = local == scale_steps - 1 or (preview_every and step % preview_every == 0)
                    command = yield StepEvent(
                        step, steps, index, len(shapes), shape, event_losses,
                        colors.finish(_numpy(composed(image.detach()))) if wants_preview else None,
                    )
                    if _stop_requested(command):
                        raise Cancelled("stop sent")
        except Cancelled:
            cancelled = True
        last_image, last_composed = done
        result = merge_alpha(colors.finish(_numpy(_resized(last_composed(last_image), shapes[-1]))), alpha)
        threads_used = torch.get_num_threads()
    loop_s = time.perf_counter() - loop_started
    provenance = {
        "engine": "nst_engine",
        "version": _version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "method": "gatys",
        "backbone": dict(_origin(backbone_entry, backbone_bound), info=getattr(net, "info", {})),
        "losses": [t.describe() for t in terms],
        "optimizer": _origin(optimizer_entry, optimizer_bound),
        "color": colors.describe(),
        "styles": len(styles_t), "style_weights": shares, "mask": masks is not None,
        "dynamic_weights": dynamic_weights,
        "balance": _balance(terms, objective, final_raw),
        "steps": steps, "steps_run": step, "cancelled": cancelled,
        "size": size, "scales": [list(s) for s in shapes], "style_scale": style_scale,
        "init": "image" if warm is not None else init, "seed": seed, "device": str(dev), "threads": threads_used,
        "channels_last": channels_last, "checkpointing": getattr(net, "checkpointing", False),
        "content_shape": list(np.shape(content)), "style_shapes": [list(np.shape(s)) for s in style_list],
        "output_shape": list(result.shape),
        "timings": {
            "setup_s": round(setup_s, 4), "loop_s": round(loop_s, 4),
            "per_step_s": round(loop_s / step, 5) if step else None,
            "total_s": round(time.perf_counter() - started, 4),
        },
    }
    return StyleResult(result, provenance)


def _stop_requested(command: Any) -> bool:
    """Whether a value sent into the generator asks to stop; a typo must not pass silently."""
    if command is not None and command != "stop":
        raise ValueError(f"iter_stylize accepts only 'stop' (or None) through send(); got {command!r}")
    return command == "stop"


def _references(content: torch.Tensor, styles: list[torch.Tensor], shape: tuple[int, int],
                style_scale: float) -> dict[str, torch.Tensor]:
    """The reference images at one scale, by the names loss terms ask for."""
    scaled = [_resized(s, _style_shape(s, shape, style_scale)) for s in styles]
    references = {"content": _resized(content, shape), "style@content": _resized(styles[0], shape)}
    references.update({f"style:{i}": s for i, s in enumerate(scaled)})
    if len(scaled) == 1:
        references["style"] = scaled[0]
    return references


def _origin(entry: Any, options: dict) -> dict:
    return {"name": entry.name, "plugin": entry.plugin, "version": entry.plugin_version, "options": options}


def _balance(terms: list, objective: Objective, raw: torch.Tensor | None) -> dict[str, float] | None:
    """Each term's final value as a fraction of its reference magnitude (0: reached)."""
    if raw is None:
        return None
    fractions = (raw.cpu() / objective.magnitudes).tolist()
    return {t.name: round(f, 6) for t, f in zip(terms, fractions)}


def _version() -> str:
    from . import __version__

    return __version__


def stylize(content: np.ndarray, style: np.ndarray, **options: Any) -> StyleResult:
    """Run :func:`iter_stylize` to the end and return its :class:`StyleResult`.

    Its options are ``iter_stylize``'s; ``cancel`` stops it from another thread.
    """
    events = iter_stylize(content, style, **options)
    while True:
        try:
            next(events)
        except StopIteration as done:
            return done.value
