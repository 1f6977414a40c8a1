"""How much memory a run will take at its peak, estimated before it starts.

A run that does not fit is killed by the operating system without a word, or fails deep in
torch with a ``MemoryError``; minutes of work are lost either way. So the plan estimates the
peak first and refuses, saying what to change. The estimate traces the run's own objective
on torch's ``meta`` device (shapes only, nothing allocated or computed, milliseconds): the
reference features cached while targets are prepared, and the tensors autograd saves for
backward in one evaluation, at each scale's real shapes, with activation checkpointing as
configured. Around that it adds what the trace does not see: the backbone's weights, the
images, the optimizer's history (L-BFGS keeps ``2 · history_size`` image-sized buffers) and
backward's transient gradients, with factors measured on VGG-19 and random-multiscale
(docs/performance.md, ``benchmarks/memory_calibration.py``). fp32 throughout.
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch

from .errors import ResourceError
from .objective import Objective, ReferenceImages, Term
from .references import CONTENT, STYLE, STYLE_AT_CONTENT, style_index, style_ref
from .schedule import style_shape

if TYPE_CHECKING:
    from .plan import RunPlan, Schedule

__all__ = ["MemoryEstimate", "estimate_peak_bytes", "estimate_run_bytes", "available_bytes", "check_fits",
           "tile_input_shape"]

_log = logging.getLogger(__name__)

_FLOAT = 4
#: With activation checkpointing, backward also recomputes a segment's activations, per
#: byte of the features read (measured on VGG-19 at 1024²).
_CHECKPOINT_FACTOR = 0.6
#: Image-sized buffers an optimizer keeps beyond its history (flat gradient, direction...).
_OPTIMIZER_BUFFERS = {"lbfgs": 4, "adam": 3, "sgd": 2}
#: What L-BFGS's strong-Wolfe line search adds while it searches: the starting point and up
#: to three gradients of its bracket (torch's ``_strong_wolfe`` clones them).
_LINE_SEARCH_BUFFERS = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """A run's estimated peak, where it occurs, and what makes it up (bytes)."""

    peak_bytes: int
    device: str
    shape: tuple[int, int] | None
    parts: Mapping[str, int] = field(default_factory=dict)
    available_bytes: int | None = None
    tile: int | None = None  #: the tile side at the peak's scale, if it tiles
    tile_graph_bytes: int | None = None  #: what one tile's graph (kept for backward) holds there

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.peak_bytes <= self.available_bytes

    def describe(self) -> dict:
        """For provenance: the estimate and its parts in bytes (not the machine's free memory,
        which would make two equal runs' records differ)."""
        return {"peak_bytes": self.peak_bytes, "device": self.device, "shape": list(self.shape) if self.shape else None,
                "tile": self.tile, "parts": dict(self.parts), "precision": "fp32"}


def available_bytes(device: torch.device | str = "cpu") -> int | None:
    """Memory a run may still take: free GPU memory on CUDA, else the system's available RAM."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _storages(tensors: Any, skip: set[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    stack = [tensors]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage()
            if storage._cdata not in skip:
                out[storage._cdata] = storage.nbytes()
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return out


def _meta(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.empty(shape, device="meta").contiguous(memory_format=torch.channels_last)


def _meta_copy(network: Any) -> tuple[Any, set[int]]:
    """The network on the meta device, without the caller's hooks, and its weights' storages.

    The weights are replaced by meta tensors as the copy is made, not cloned and then moved:
    cloning VGG-19's 80 MB took most of an estimate's time (0.3 s of 0.5 s at 8192²).
    """
    def on_meta(tensor: torch.Tensor) -> torch.Tensor:
        empty = torch.empty_like(tensor, device="meta")
        return torch.nn.Parameter(empty, tensor.requires_grad) if isinstance(tensor, torch.nn.Parameter) else empty

    memo = {id(t): on_meta(t) for t in [*network.parameters(), *network.buffers()]}
    net = copy.deepcopy(network, memo)
    for module in net.modules():  # a copy carries the caller's hooks: they must not see the trace
        module._forward_hooks.clear()
        module._forward_pre_hooks.clear()
        module._backward_hooks.clear()
    return net, set(_storages(list(net.parameters()) + list(net.buffers()), set()))


def _trace(net: Any, weights: set[int], terms: Sequence[Term], layers: tuple[str, ...], shape: tuple[int, int],
           style_shapes: Sequence[tuple[int, int]], masked: bool) -> tuple[int, int, int, int]:
    """At ``shape``: bytes of the reference features, of what autograd saves in one evaluation,
    of the features the losses read, and of the largest of those (``net`` on the meta device)."""
    skip = set(weights)
    h, w = shape
    images = {CONTENT: _meta((1, 3, h, w)), STYLE_AT_CONTENT: _meta((1, 3, h, w))}
    images.update({style_ref(i): _meta((1, 3, *s)) for i, s in enumerate(style_shapes)})
    if len(style_shapes) == 1:
        images[STYLE] = images[style_ref(0)]
    masks = [torch.empty(1, 1, h, w, device="meta") for _ in style_shapes] if masked else []
    losses = [copy.deepcopy(t.loss) for t in terms]
    for loss in losses:
        if loss.role == "style":
            loss.mask = masks[style_index(loss.reference)] if masks else None
        elif loss.role == "content":
            loss.mask = masks[0] if masks else None
    references = ReferenceImages(net, images)
    prepared = []
    with torch.no_grad():
        for loss in losses:
            try:
                prepared.append((loss, loss.prepare(references)))
            except Exception:  # a loss that cannot run on meta tensors: traced without it
                _log.debug("memory trace skips %s", type(loss).__name__, exc_info=True)
    cached = sum(_storages(references.cached(), skip).values())
    skip |= set(_storages([target for _, target in prepared], set()))
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.update(_storages(tensor, skip))
        return tensor

    image = torch.empty(1, 3, h, w, device="meta", requires_grad=True)
    values = []  # kept, so their graphs (and saved tensors) live until counted: no address reuse
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        features = net(image.contiguous(memory_format=torch.channels_last), layers) if layers else {}
        for loss, target in prepared:
            try:
                values.append(loss(image, features, target))
            except Exception:
                _log.debug("memory trace skips %s", type(loss).__name__, exc_info=True)
    sizes = [f.numel() * _FLOAT for f in features.values()] or [image.numel() * _FLOAT]
    return cached, sum(saved.values()), sum(sizes), max(sizes)


def tile_input_shape(network: Any, objective: Objective, shape: tuple[int, int], tile: int) -> tuple[int, int]:
    """The largest tile input (core and halo) of a scale of ``shape`` tiled at ``tile`` px."""
    from .tiling.layout import backbone_layout

    return backbone_layout(network, objective.layers, shape, tile).largest_input


def _local_target_bytes(net: Any, terms: Sequence[Term], shape: tuple[int, int]) -> int:
    """Bytes of the whole-image feature maps that local targets (content terms) keep."""
    local = [t for t in terms if getattr(t.loss, "local_target", False)]
    if not local:
        return 0
    features = net(_meta((1, 3, *shape)), {layer for t in local for layer in t.loss.layers})
    return sum(features[layer].numel() * _FLOAT for t in local for layer in t.loss.layers)


def _optimizer_buffers(name: str, options: Mapping[str, Any], steps: int) -> int:
    if name == "lbfgs":
        # Two image-sized vectors per remembered step, and it remembers at most ``steps``.
        return (2 * min(int(options.get("history_size", 100)), steps) + _OPTIMIZER_BUFFERS["lbfgs"]
                + (_LINE_SEARCH_BUFFERS if options.get("line_search") else 0))
    return _OPTIMIZER_BUFFERS.get(name, 4)


def _tiled_phase(name: str, options: Mapping[str, Any], count: int, *, image: int, target: int, tile_bytes: float,
                 forward: int, last: bool) -> dict[str, int]:
    """The largest phase of a tiled scale of ``count`` steps: its targets, a step's evaluation
    or the optimizer's update after it (measured at 4096² and 8192², docs/performance.md).

    While targets are prepared the references are whole (content, style at the content's
    size for the content term's magnitude, the style, the initial image); a step holds the
    image and its gradient (and the content, for a finer scale's references), the content
    term's whole target, and either one tile's evaluation or the update's vectors.
    """
    content = 0 if last else image
    if name == "lbfgs":
        history = int(options.get("history_size", 100))
        # Between steps L-BFGS keeps its direction, the previous gradient and two vectors per
        # remembered step; an update adds the new direction (and, until the history is full, a pair).
        kept = 0 if count == 1 else 2 * min(history, count - 2) + 2
        updating = 2 if count == 1 else 2 * min(history, count - 1) + 3
        if options.get("line_search"):  # its trial evaluations hold the search's buffers too
            kept += _LINE_SEARCH_BUFFERS
    else:
        kept = updating = _OPTIMIZER_BUFFERS.get(name, 4)
    phases = [
        {"features": target + forward, "optimizer": 0, "tiling": 4 * image},
        {"features": int(target + tile_bytes), "optimizer": kept * image, "tiling": 2 * image + content},
        {"features": target, "optimizer": updating * image, "tiling": 2 * image + content},
    ]
    return max(phases, key=lambda phase: sum(phase.values()))


def estimate_run_bytes(
    *,
    network: Any,
    objective: Objective,
    schedule: Schedule,
    content_hw: tuple[int, int],
    style_hws: Sequence[tuple[int, int]],
    style_scale: float,
    masked: bool,
    optimizer: Any,
    device: torch.device,
) -> MemoryEstimate:
    """The peak over the scales that optimise (a scale with no steps computes no features).

    ``content_hw`` and ``style_hws`` are the inputs' shapes as given (held throughout);
    ``optimizer`` is the plan's bound optimizer entry.
    """
    weights = sum(t.numel() * t.element_size() for t in list(network.parameters()) + list(network.buffers()))
    held = (content_hw[0] * content_hw[1] + sum(h * w for h, w in style_hws)) * 3 * _FLOAT
    final = schedule.shapes[-1][0] * schedule.shapes[-1][1] * 3 * _FLOAT
    # The content at the run's size, its tensor, the last iterate's copy and the result.
    images = held + 4 * final
    available = available_bytes(device)
    best = MemoryEstimate(weights + images, str(device), None, {"weights": weights, "images": images}, available)
    factor = getattr(network, "backward_memory", 2.0)
    if getattr(network, "checkpointing", False):
        factor += _CHECKPOINT_FACTOR
    meta = None
    tiles = schedule.tiles or (None,) * len(schedule.shapes)
    last = len(schedule.shapes) - 1
    optimizer_options = {**optimizer.entry.defaults(), **optimizer.options}
    for index, (shape, count, tile) in enumerate(zip(schedule.shapes, schedule.steps, tiles)):
        if count == 0:
            continue
        # A tiled scale's backbone works on one tile's input at a time (styles' targets too).
        traced = tile_input_shape(network, objective, shape, tile) if tile else shape
        styles = [traced if tile else style_shape(hw, shape, style_scale) for hw in style_hws]
        try:
            meta = meta or _meta_copy(network)
            cached, saved, read, largest = _trace(*meta, objective.terms, objective.layers, traced, styles, masked)
            if tile:  # kept whole: the per-pixel targets of content terms, not the tile's cache
                cached = _local_target_bytes(meta[0], objective.terms, shape)
        except Exception:  # a backbone that cannot run on meta tensors: no estimate of features
            _log.warning("cannot trace %s on the meta device: its memory is not estimated",
                         type(network).__name__, exc_info=_log.isEnabledFor(logging.DEBUG))
            cached = saved = read = largest = 0
        image = shape[0] * shape[1] * 3 * _FLOAT
        # Targets are prepared (reference features cached, one layer's forward in flight)
        # before the steps run (activations saved, then backward's gradients and workspaces).
        # A tiled step keeps ``kept_graphs`` tiles' graphs from pass 1 while pass 2 starts.
        if tile:
            parts = {"weights": weights, "images": held + final, **_tiled_phase(
                optimizer.entry.name, optimizer_options, count, image=image, target=cached,
                tile_bytes=max(1, schedule.kept_graphs) * saved + factor * read, forward=2 * largest,
                last=index == last)}
        else:
            features = max(cached + 2 * largest, saved + factor * read)
            optimizer_bytes = _optimizer_buffers(optimizer.entry.name, optimizer_options, count) * image
            parts = {"weights": weights, "images": images, "features": int(features), "optimizer": optimizer_bytes}
        total = sum(parts.values())
        if total > best.peak_bytes:
            best = MemoryEstimate(total, str(device), tuple(shape), parts, available, tile, saved if tile else None)
    return best


def estimate_peak_bytes(plan: "RunPlan") -> MemoryEstimate:
    """The peak memory of running ``plan`` (see the module docstring for the model).

    :func:`~nst_engine.plan.plan_run` has already done this (``plan.memory``) before resizing
    anything; this redoes it, e.g. with the memory available now.
    """
    content = plan.input_shapes["content"]
    return estimate_run_bytes(
        network=plan.network, objective=plan.objective, schedule=plan.schedule, content_hw=tuple(content[:2]),
        style_hws=[s.shape[:2] for s in plan.styles], style_scale=plan.options["style_scale"],
        masked=plan.masks is not None, optimizer=plan.optimizer, device=plan.device,
    )


def check_fits(estimate: MemoryEstimate, *, size: int | None, checkpointing: bool, optimizer: str,
               history_size: int | None, tiling: str | None = None) -> None:
    """Raise :class:`ResourceError` if ``estimate`` exceeds the memory available, saying what to change."""
    if estimate.fits:
        return
    gb = 2**30
    ratio = estimate.available_bytes / estimate.peak_bytes
    advice = []
    if size is not None:
        advice.append(f"a smaller size (size {max(64, int(size * ratio**0.5 * 0.9))} would about fit)")
    else:
        advice.append("a size (the content is used at its own size)")
    if not checkpointing:
        advice.append("checkpointing on")
    if optimizer == "lbfgs" and history_size:
        advice.append(f"a smaller optimizer history_size (now {history_size})")
    advice.append("fewer or smaller style images")
    where = f"{estimate.shape[1]}×{estimate.shape[0]} px" if estimate.shape else "the inputs"
    tiled = f", in tiles of {estimate.tile} px" if estimate.tile else ""
    note = f" (tiling cannot help: {tiling})" if tiling else ""
    raise ResourceError(
        f"this run needs about {estimate.peak_bytes / gb:.1f} GB at its peak ({where}{tiled} on {estimate.device}) "
        f"but {estimate.available_bytes / gb:.1f} GB is available{note}; use " + ", ".join(advice),
        )
