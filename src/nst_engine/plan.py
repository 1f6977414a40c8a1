"""A run, decided before it starts: validated inputs, resolved plugins, schedule, memory.

:func:`plan_run` checks every option of :func:`~nst_engine.pipeline.iter_stylize` up front
(an error names the option and the fix before any work), resolves the registry entries, builds
the backbone and the loss terms, lays out the coarse-to-fine schedule and estimates the peak
memory (refusing a run that would not fit). The :class:`RunPlan` it returns is what the step
loop runs and what the provenance records; tiling, batches and video reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch

from .convergence import DEFAULT_TOLERANCE, UNTIL
from .devices import resolve_device
from .entries import Entry
from .errors import OptionError
from .guides import check_guides
from .images import max_side_shape, resize_to, split_image
from .masks import style_masks
from .memory import MemoryEstimate, check_fits, estimate_run_bytes
from .objective import Objective, build_terms, expand_styles
from .plugin_calls import blamed
from .plugins import get_entry
from .precision import cast_forward, resolve_precision
from .preservation import ColorPreservation
from .schedule import scale_shapes, split_steps
from .tiling.choice import check_tile, choose_tiling
from .validation import (
    check_bool,
    check_choice,
    check_int,
    check_mapping,
    check_positive_float,
    check_style_shares,
)

__all__ = ["RunPlan", "Bound", "Schedule", "plan_run", "DEFAULT_LOSSES", "DEFAULT_TOLERANCE", "CHECKPOINT_PIXELS",
           "INITS"]

#: Content and style balanced for the default layers (equal layer weights), plus a little TV.
DEFAULT_LOSSES: dict[str, float] = {"content": 1.0, "gram": 1e4, "tv": 1.0}

#: Above this many pixels the backbone recomputes activations in backward to save memory:
#: 2048² then fits in 8 GB on the CPU (measured, docs/performance.md).
CHECKPOINT_PIXELS = 1536 * 1536

INITS = ("content", "noise", "style")
Init = Literal["content", "noise", "style"]


@dataclass(frozen=True)
class Bound:
    """A registry entry with its validated options: what a run calls, and whom to blame."""

    entry: Entry
    options: Mapping[str, Any]

    def blamed(self, doing: str):
        """A context in which the entry's failure is a one-line :class:`PluginError` naming it."""
        return blamed(self.entry, doing)

    def create(self, *args: Any) -> Any:
        with self.blamed("when built"):
            return self.entry.factory(*args, **self.options)

    def describe(self) -> dict:
        entry = self.entry
        return {"name": entry.name, "plugin": entry.plugin, "version": entry.plugin_version, "options": dict(self.options)}


@dataclass(frozen=True)
class Schedule:
    """Image shapes from coarse to fine, the most optimizer iterations at each, and when to stop.

    ``until="converged"`` ends a scale early once its loss stops falling by ``tolerance``
    (:mod:`nst_engine.convergence`); ``"steps"`` runs every step.
    """

    shapes: tuple[tuple[int, int], ...]
    steps: tuple[int, ...]
    until: str = "converged"
    tolerance: float = DEFAULT_TOLERANCE
    #: Per scale, the tile side it runs in (:mod:`nst_engine.tiling`), ``None`` for whole.
    tiles: tuple[int | None, ...] | None = None
    #: Tiles of a tiled step that keep their forward graph between its two passes.
    kept_graphs: int = 0

    @property
    def total(self) -> int:
        return sum(self.steps)


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs, decided: the step loop only executes it.

    ``content``, ``styles`` and ``masks`` are float arrays as the optimisation sees them
    (content and masks at the run's size, colors already prepared); ``network`` is the built,
    frozen, truncated backbone and ``objective`` its loss terms, whose targets each scale sets.
    ``options`` holds every option with its value, defaults included, for the provenance.
    """

    content: np.ndarray = field(repr=False)
    alpha: np.ndarray | None = field(repr=False)
    styles: tuple[np.ndarray, ...] = field(repr=False)
    style_shares: tuple[float, ...]
    masks: tuple[np.ndarray, ...] | None = field(repr=False)
    init: str
    init_image: np.ndarray | None = field(repr=False)
    backbone: Bound
    optimizer: Bound
    network: Any = field(repr=False)
    objective: Objective = field(repr=False)
    colors: ColorPreservation = field(repr=False)
    schedule: Schedule
    device: torch.device
    memory: MemoryEstimate
    options: Mapping[str, Any] = field(repr=False)
    input_shapes: Mapping[str, Any] = field(repr=False)
    precision: str = "fp32"
    #: Named guide images and maps at the run's size (:mod:`nst_engine.guides`).
    guides: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)


def _with_defaults(entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's bound options with every default filled in: the provenance lists all."""
    return {**entry.defaults(), **options}


def _style_list(style: Any) -> list[Any]:
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise OptionError("style needs at least one image; got an empty list", option="style")
    return styles


def plan_run(
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
) -> RunPlan:
    """Validate ``iter_stylize``'s options and decide the run; see its docstring for them.

    ``check_memory=False`` skips the refusal (the estimate is still recorded): for a machine
    whose swap or unified memory the estimate does not know about.

    Raises
    ------
    OptionError
        An option is of the wrong type or out of range; its ``option`` attribute names it.
    ResourceError
        The run's estimated peak memory exceeds what is available.
    """
    steps = check_int("steps", steps, minimum=0)
    scales = check_int("scales", scales, minimum=1)
    size = None if size is None else check_int("size", size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    threads = None if threads is None else check_int("threads", threads, minimum=1)
    preview_every = check_int("preview_every", preview_every, minimum=0)
    style_scale = check_positive_float("style_scale", style_scale)
    init = check_choice("init", init, INITS)
    until = check_choice("until", until, UNTIL)
    tolerance = check_positive_float("tolerance", tolerance)
    if tolerance >= 1:  # a positive loss cannot fall by all of itself: every scale would end at its minimum
        raise OptionError(f"tolerance is a fraction of the loss below 1 (0.002 is 0.2 %); got {tolerance:g}, "
                          "with which every scale ends after its first steps", option="tolerance")
    tile = check_tile(tile)
    tile_graphs = None if tile_graphs is None else check_int("tile_graphs", tile_graphs, minimum=0)
    for name, flag in (("dynamic_weights", dynamic_weights), ("channels_last", channels_last),
                       ("check_memory", check_memory)):
        check_bool(name, flag)
    if checkpointing is not None:
        check_bool("checkpointing", checkpointing)
    backbone_options = check_mapping("backbone_options", backbone_options)
    optimizer_options = check_mapping("optimizer_options", optimizer_options)
    loss_options = {k: check_mapping(f"loss_options {k}", v)
                    for k, v in check_mapping("loss_options", loss_options).items()}
    weights = check_mapping("losses", DEFAULT_LOSSES if losses is None else losses)
    color_options = check_mapping("color_options", color_options)

    content_rgb, alpha = split_image(content, what="content image")
    style_list = _style_list(style)
    styles_rgb = [split_image(s, what=f"style image {i}")[0] for i, s in enumerate(style_list)]
    shares = check_style_shares(style_weights, len(styles_rgb))
    warm = split_image(init_image, what="init image")[0] if init_image is not None else None
    colors = ColorPreservation(color, color_options)
    dev = resolve_device(device)
    resolved_precision = resolve_precision(precision, dev)
    backbone_entry = get_entry("backbones", backbone)
    backbone_bound = Bound(backbone_entry, backbone_entry.bind(backbone_options))
    optimizer_entry = get_entry("optimizers", optimizer)
    optimizer_bound = Bound(optimizer_entry, optimizer_entry.bind(optimizer_options))
    terms = expand_styles(build_terms(weights, loss_options), shares)

    shape = max_side_shape(content_rgb.shape[:2], size)
    shapes = tuple(scale_shapes(shape, scales))
    schedule = Schedule(shapes, tuple(split_steps(steps, len(shapes))), until, tolerance)
    # Frozen whatever the factory did: weight gradients would cost ~30% per step for nothing.
    net = backbone_bound.create().eval().requires_grad_(False)
    objective = Objective(net, terms, dynamic=dynamic_weights, blame=backbone_bound.blamed)
    if objective.layers:
        net.truncate(objective.layers)
    uses_checkpointing = shape[0] * shape[1] > CHECKPOINT_PIXELS if checkpointing is None else checkpointing
    if hasattr(net, "checkpointing"):
        net.checkpointing = uses_checkpointing

    def estimate(schedule: Schedule, optimizer: Bound) -> MemoryEstimate:
        return estimate_run_bytes(
            network=net, objective=objective, schedule=schedule, content_hw=content_rgb.shape[:2],
            style_hws=[s.shape[:2] for s in styles_rgb], style_scale=style_scale, masked=mask is not None,
            optimizer=optimizer, device=dev,
        )

    schedule, optimizer_bound, estimate_bytes, why_not = choose_tiling(
        tile, tile_graphs, schedule=schedule, optimizer=optimizer_bound, estimate=estimate, network=net,
        objective=objective, auto_checkpointing=checkpointing is None, checkpoint_pixels=CHECKPOINT_PIXELS)
    if check_memory:
        check_fits(estimate_bytes, size=size, checkpointing=bool(getattr(net, "checkpointing", True)),
                   optimizer=optimizer,
                   history_size=_with_defaults(optimizer_entry, optimizer_bound.options).get("history_size"),
                   tiling=why_not if tile is not None else "it is off; tile=\"auto\" (--tile auto) tiles a run that does not fit")
    # After the memory trace: the estimate stays float32's, an upper bound for bf16.
    cast_forward(net, resolved_precision, dev)

    guide_images = check_guides(guides, content_rgb.shape[:2], shape)
    content_rgb = resize_to(content_rgb, shape)
    masks = style_masks(mask, len(styles_rgb), shape)
    content_rgb, styles_rgb = colors.prepare(content_rgb, styles_rgb)
    options = {
        "style_weights": list(shares), "mask": mask is not None, "dynamic_weights": dynamic_weights,
        "backbone": backbone, "backbone_options": _with_defaults(backbone_entry, backbone_bound.options), "losses": dict(weights),
        "loss_options": {t.name: _with_defaults(t.entry, t.options) for t in terms}, "optimizer": optimizer,
        "optimizer_options": _with_defaults(optimizer_entry, optimizer_bound.options), "steps": steps, "size": size, "scales": scales,
        "until": until, "tolerance": tolerance,
        "style_scale": style_scale, "init": init, "init_image": warm is not None, "seed": seed,
        "device": str(device), "threads": threads, "channels_last": channels_last, "checkpointing": checkpointing,
        "precision": precision, "preview_every": preview_every, "color": color, "color_options": dict(color_options),
        "check_memory": check_memory, "tile": tile, "tile_graphs": tile_graphs,
        "guides": sorted(guide_images),
    }
    return RunPlan(
        content=content_rgb, alpha=alpha, styles=tuple(styles_rgb), style_shares=tuple(shares),
        masks=tuple(masks) if masks is not None else None, init=init, init_image=warm,
        backbone=backbone_bound, optimizer=optimizer_bound, network=net, objective=objective, colors=colors,
        schedule=schedule, device=dev, memory=estimate_bytes, options=options, precision=resolved_precision,
        input_shapes={"content": list(np.shape(content)), "styles": [list(np.shape(s)) for s in style_list]},
        guides=guide_images,
    )
