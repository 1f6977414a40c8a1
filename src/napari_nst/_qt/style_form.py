"""The Style Transfer form: every choice the registry offers, with the options forms of its entries.

It knows how to turn itself into ``iter_stylize`` keyword arguments and a
:class:`~napari_nst._workers.StyleJob` (plain arrays captured on the main thread); running
the job is :class:`~napari_nst._qt.style_transfer.StyleTransferWidget`'s part.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any

import napari
import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    Select,
    SpinBox,
)
from napari.layers import Image, Labels, Shapes
from qtpy.QtWidgets import QSizePolicy

from nst_engine import (
    list_backbones,
    list_color_transfers,
    list_losses,
    list_optimizers,
)
from nst_engine.backbones.vgg import (
    WEIGHTS_HINT,
    has_imagenet_weights,
    imagenet_weights_path,
)
from nst_engine.convergence import UNTIL
from nst_engine.errors import OptionError
from nst_engine.pipeline import iter_stylize
from nst_engine.precision import PRECISIONS
from nst_engine.presets import DEFAULT_QUALITY, QUALITY_PRESETS, steps_and_scales
from nst_engine.schedule import MIN_SIDE

from .. import __version__
from .._forms import EntryPicker, LossWeights, mark_invalid
from .._layers import (
    current_index,
    is_stack,
    is_time_series,
    layer_data,
    leading_axes,
    output_hw,
    plane_indices,
)
from .._lazy import PREVIEW_FIT_MAX, capture_plane, is_lazy, lazy_levels, plane_note
from .._multiscale import result_levels
from .._settings import run_settings
from .._style_inputs import mask_fields, parse_style_weights
from .._workers import StyleJob
from ._common import (
    ALL_PLANES,
    SELECTED_LAYERS,
    engine_ready,
    image_picker,
    layer_choices,
    pick_apart,
    plane_picker,
    sync_planes,
)
from ._panel import Panel, Section

__all__ = ["StyleTransferForm", "COLOR_MODES", "PRESETS", "default_backbone"]

_DEFAULTS = {p.name: p.default for p in inspect.signature(iter_stylize).parameters.values()}

#: Color preservation: keep the content's colors by luminance-only transfer, or recolour the
#: style image before the run, or the result after it, with a registered color transfer.
COLOR_MODES = ("none", "luminance", "before", "after")


#: Quality presets: (steps, scales), the engine's (``nst stylize --quality``).
PRESETS: dict[str, tuple[int, int]] = {name: steps_and_scales(name) for name in QUALITY_PRESETS}
CUSTOM = "custom"
#: The one line the panel shows when VGG weights are absent (the tooltip says where they go).
WEIGHTS_NOTE = "No VGG weights here: using random-multiscale, which works offline. For VGG-19, see the tooltip."


def default_backbone() -> str:
    """vgg19 when its ImageNet weights are installed, else the weight-free random-multiscale."""
    return "vgg19" if has_imagenet_weights("vgg19") else "random-multiscale"


class StyleTransferForm(Panel):
    """The Style Transfer form: inputs, registry choices with their options, run settings.

    A short Basic part (inputs, quality, size) and collapsible Advanced sections, in a scroll
    area over the pinned Run/Cancel, progress and status. :meth:`make_job` turns it into a
    :class:`~napari_nst._workers.StyleJob`; the widget subclass runs it.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        settings = run_settings()

        self.content = image_picker(
            viewer, name="content", label="content", selected=True,
            tooltip="the image to stylise, or every selected Image layer but the styles (each its own result, "
            "run in parallel on a local Dask cluster); never modified",
        )
        self.style = image_picker(
            viewer, name="style", label="style", tooltip="the image whose style (colors, textures, strokes) is transferred"
        )
        self.quality = ComboBox(
            name="quality", label="quality", choices=[*PRESETS, CUSTOM], value=DEFAULT_QUALITY,
            tooltip="draft: a first look, quickly; standard: the engine's defaults; fine: more steps. "
            "Sets steps and scales (Advanced > Optimisation); each scale ends early once its loss stops falling",
        )
        self.size = SpinBox(
            name="size", value=_DEFAULTS["size"] or 0, min=0, max=16_384,
            tooltip="longer side of the result in pixels (0: the content's own); time grows with its square",
        )
        self.planes = plane_picker(tooltip="a stack: the plane under the sliders, or every plane")
        self.warm_start = CheckBox(
            name="warm_start", text="warm start", value=True, enabled=False,
            tooltip="all planes: each plane starts from the previous plane's result, one after another in napari "
            "(coherent over time, live preview); off: the planes run in parallel on a local Dask cluster",
        )
        self.temporal = CheckBox(
            name="temporal", text="temporal coherence", value=False, enabled=False,
            tooltip="all planes of a time series as a video (Ruder et al. 2016): each plane starts from the previous "
            "result carried along the optical flow and a temporal loss holds it there, except where the flow is "
            "unreliable; less flicker. On by default for a time (t) axis",
        )
        self._temporal_for: Any = None  # the content layer (its id) the temporal default was set for
        backbone = default_backbone()
        self.weights_note = Label(name="weights_note", value="" if backbone == "vgg19" else WEIGHTS_NOTE)
        self.weights_note.tooltip = WEIGHTS_HINT.format(
            file=imagenet_weights_path("vgg19").name, folder=imagenet_weights_path("vgg19").parent
        )
        self.weights_note.native.setWordWrap(True)
        self.weights_note.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.weights_note.visible = bool(self.weights_note.value)

        self.backbone = EntryPicker(
            "backbones", label="backbone", value=backbone, names=list_backbones,
            tooltip="the network whose features define content and style",
        )
        self.optimizer = EntryPicker(
            "optimizers", label="optimizer", value="lbfgs", names=list_optimizers,
            tooltip="how the image is updated each step",
        )
        self.steps = SpinBox(
            name="steps", value=_DEFAULTS["steps"], min=1, max=100_000, tooltip="optimizer iterations over all scales"
        )
        self.scales = SpinBox(
            name="scales", value=_DEFAULTS["scales"], min=1, max=8,
            tooltip=f"coarse-to-fine scales, each half the size of the next; scales whose shorter side "
            f"would fall below {MIN_SIDE} px are skipped",
        )
        self.until = ComboBox(
            name="until", choices=list(UNTIL), value=_DEFAULTS["until"],
            tooltip="converged: end each scale once its loss stops falling (saves time, same look); "
            "steps: run every step",
        )
        self.init = ComboBox(
            name="init", choices=["content", "noise", "style"], value=_DEFAULTS["init"],
            tooltip="the image the optimisation starts from: the content keeps its layout best",
        )
        self.losses = LossWeights(list_losses())
        self.losses.label = "loss weights"
        self.dynamic_weights = CheckBox(
            name="dynamic_weights", text="dynamic weights", value=False,
            tooltip="rebalance content and style weights while running (dynamic-weighting paper)",
        )
        self.extra_styles = Select(
            name="extra_styles", label="extra styles", choices=partial(layer_choices, viewer, Image), value=[],
            tooltip="more style Image layers (ctrl/shift-click): blended by the style weights, or with a "
            "label mask, style i+1 takes label i+1",
        )
        self.extra_styles.native.setMaximumHeight(72)
        self.style_weights = LineEdit(
            name="style_weights", label="style weights", value="",
            tooltip="comma-separated relative weights, one per style (main style first); empty: equal",
        )
        self.mask = ComboBox(
            name="mask", label="mask", choices=partial(layer_choices, viewer, (Labels, Shapes)), nullable=True,
            value=None,
            tooltip="a Labels or Shapes layer: where style applies (nonzero), or with several styles "
            "label i = style i (0: content only); never modified",
        )
        self.style_scale = FloatSpinBox(
            name="style_scale", label="style scale", value=_DEFAULTS["style_scale"], min=0.05, max=10.0, step=0.05,
            tooltip="style image size relative to the content: larger means larger brush strokes",
        )
        self.color = ComboBox(
            name="color", label="color", choices=list(COLOR_MODES), value="none",
            tooltip="preserve the content's colors: luminance-only transfer, or a color transfer "
            "before (on the style image) or after (on the result)",
        )
        self.color_transfer = EntryPicker(
            "color_transfers", label="transfer", names=list_color_transfers, value="reinhard", name="color_transfer",
            tooltip="the color transfer used by color before / after",
        )
        self.seed = SpinBox(
            name="seed", value=_DEFAULTS["seed"], min=0, max=2**31 - 1,
            tooltip="seeds the noise start and random backbones: equal seeds give equal results on the CPU",
        )
        self.device = ComboBox(
            name="device", choices=["auto", "cpu", "cuda", "mps"], value=_device(settings.device),
            tooltip="where the run computes: auto picks CUDA, then MPS, then the CPU",
        )
        self.precision = ComboBox(
            name="precision", choices=list(PRECISIONS), value=_DEFAULTS["precision"],
            tooltip="the backbone's arithmetic: fp32, or bf16 where the CPU (AMX, AVX-512 BF16) or GPU computes it "
            "natively (faster, slightly different results); auto picks bf16 there",
        )
        self.workers = SpinBox(
            name="workers", value=0, min=0, max=256,
            tooltip="planes in parallel and every selected layer: the local cluster's worker processes "
            "(0: one per core, as the memory allows, never more than the jobs)",
        )
        self.run_button = PushButton(name="run", text="Run")
        self.run_button.tooltip = "stylise the content (the viewer stays usable; the result updates live)"
        self.cancel_button = PushButton(name="cancel", text="Cancel", enabled=False)
        self.cancel_button.tooltip = "stop within a second or two and keep the result so far"
        basic = Container(
            name="basic", labels=True,
            widgets=[self.content, self.style, self.quality, self.size, self.planes, self.warm_start, self.temporal],
        )
        forms = (self.backbone.holder, self.optimizer.holder, self.color_transfer.holder, self.losses)
        self.sections = [
            Section("Backbone", self.backbone.widgets, wide=forms),
            Section("Optimisation", [*self.optimizer.widgets, self.steps, self.scales, self.until, self.init], wide=forms),
            Section("Losses", [self.losses, self.dynamic_weights], wide=forms),
            Section("Styles and mask", [self.extra_styles, self.style_weights, self.mask, self.style_scale]),
            Section("Color", [self.color, *self.color_transfer.widgets], wide=forms),
            Section("Run", [self.seed, self.device, self.precision, self.workers]),
        ]
        super().__init__([basic, self.weights_note, *self.sections], [self.run_button, self.cancel_button])
        self._color_changed()
        self.content.changed.connect(self._content_changed)
        self.planes.changed.connect(self._content_changed)
        self.warm_start.changed.connect(self._content_changed)
        self.color.changed.connect(self._color_changed)
        self.quality.changed.connect(self._quality_changed)
        self.steps.changed.connect(self._steps_changed)
        self.scales.changed.connect(self._steps_changed)
        self.style_weights.changed.connect(self._check_style_weights)
        self._content_changed()
        pick_apart(self.style, self.content)

    def _quality_changed(self, *_: Any) -> None:
        if self.quality.value in PRESETS:
            steps, scales = PRESETS[self.quality.value]
            with self.steps.changed.blocked(), self.scales.changed.blocked():
                self.steps.value, self.scales.value = steps, scales

    def _steps_changed(self, *_: Any) -> None:
        preset = next((name for name, v in PRESETS.items() if v == (self.steps.value, self.scales.value)), CUSTOM)
        with self.quality.changed.blocked():
            self.quality.value = preset

    def _check_style_weights(self, *_: Any) -> str | None:
        styles = 1 + len(self.extra_styles.value)
        try:
            parse_style_weights(self.style_weights.value, styles)
            error = None
        except OptionError as exc:
            error = str(exc)
        mark_invalid(self.style_weights, error)
        return error

    def _content_changed(self, *_: Any) -> None:
        sync_planes(self.planes, self.content.value)
        layer = self.content.value
        self.warm_start.enabled = self.planes.value == ALL_PLANES and layer is not SELECTED_LAYERS
        single = layer is not None and layer is not SELECTED_LAYERS
        if single and id(layer) != self._temporal_for:  # a new content: on for a time series
            self._temporal_for = id(layer)
            self.temporal.value = is_time_series(layer)
        self.temporal.enabled = (self.warm_start.enabled and self.warm_start.value and single
                                 and leading_axes(layer) == 1)

    def _color_changed(self, *_: Any) -> None:
        shown = self.color.value in ("before", "after")
        for widget in self.color_transfer.widgets:
            widget.visible = shown

    def reset_choices(self, *_: Any) -> None:
        """Refresh layer and registry choices (napari calls this on layer changes)."""
        super().reset_choices()
        self._content_changed()
        pick_apart(self.style, self.content)

    def color_option(self) -> str:
        """The ``color`` argument of ``iter_stylize``: ``none``, ``luminance`` or ``before:<transfer>``."""
        mode = self.color.value
        if mode in ("before", "after"):
            if not self.color_transfer.value:
                raise OptionError(
                    f"color {mode!r} needs a color transfer, but none is registered; choose none or luminance"
                )
            return f"{mode}:{self.color_transfer.value}"
        return mode

    def engine_options(self) -> dict[str, Any]:
        """The ``iter_stylize`` keyword arguments the form describes, validated."""
        settings = run_settings()
        weights = self.losses.weights()
        options = {
            "backbone": self.backbone.value,
            "backbone_options": self.backbone.options(),
            "losses": weights,
            "loss_options": self.losses.loss_options(weights),
            "optimizer": self.optimizer.value,
            "optimizer_options": self.optimizer.options(),
            "steps": int(self.steps.value),
            "size": int(self.size.value) or None,
            "scales": int(self.scales.value),
            "until": self.until.value,
            "style_scale": float(self.style_scale.value),
            "init": self.init.value,
            "seed": int(self.seed.value),
            "device": self.device.value,
            "precision": self.precision.value,
            "threads": settings.torch_threads,
            "preview_every": settings.preview_interval,
        }
        color = self.color_option()
        if color != "none":
            options["color"] = color
            if color.startswith(("before:", "after:")):
                options["color_options"] = self.color_transfer.options()
        if self.dynamic_weights.value:
            options["dynamic_weights"] = True
        return options

    def style_inputs(self) -> tuple[dict[str, Any], list[Any], list[tuple[Any, tuple[int, ...]]]]:
        """The engine options (style weights included), the style layers and their planes (main thread;
        a lazy layer's plane is a :class:`~napari_nst._lazy.LazyPlane`, read in the worker)."""
        if self.content.value is None or self.style.value is None:
            raise OptionError(
                "choose a content and a style Image layer (File > Open Sample > Neural Style Transfer has a pair)"
            )
        options = self.engine_options()
        order = {id(layer): k for k, layer in enumerate(self.extra_styles.choices)}
        extras = sorted(self.extra_styles.value, key=lambda layer: order.get(id(layer), len(order)))
        style_layers = [self.style.value, *extras]  # the extra styles in the layer list's order, not the clicks'
        weights = parse_style_weights(self.style_weights.value, len(style_layers))
        if weights is not None:
            options["style_weights"] = weights
        planes = []
        for layer in style_layers:
            index = current_index(layer, self._viewer)
            planes.append((capture_plane(layer, index), index))
        return options, style_layers, planes

    def make_job(self) -> tuple[StyleJob, dict]:
        """Capture a run's inputs and options, and what the result layer needs to know.

        Runs on the main thread and reads no pixel of a lazy (dask, zarr) or multiscale layer:
        the worker reads those at the run's size. Raises ``NstError`` on bad input.
        """
        options, style_layers, style_planes = self.style_inputs()
        content, style = self.content.value, self.style.value
        if content is SELECTED_LAYERS:
            raise OptionError("every selected layer runs as a batch: see make_batch")
        style_image, style_index = style_planes[0]
        data = layer_data(content)
        lead = leading_axes(content)
        all_planes = self.planes.value == ALL_PLANES and is_stack(content)
        if all_planes:
            indices = tuple(plane_indices(content))
            stack_shape = tuple(np.shape(data)[:lead])
        else:
            indices = (current_index(content, self._viewer),)
            stack_shape = ()
        plane_hw = tuple(np.shape(data)[lead : lead + 2])
        mask_layer = self.mask.value
        temporal = all_planes and self.temporal.enabled and self.temporal.value
        if temporal and mask_layer is not None:
            raise OptionError(f"temporal coherence takes no mask, but {mask_layer.name!r} is chosen: choose no mask, "
                              "or untick temporal coherence")
        out_hw = output_hw(plane_hw, options["size"])
        masks, mask_info = ({}, {}) if mask_layer is None else mask_fields(
            mask_layer, content, options,
            index=() if isinstance(mask_layer, Shapes) else current_index(mask_layer, self._viewer),
            indices=indices if all_planes else None, stack_shape=stack_shape, plane_hw=plane_hw, out_hw=out_hw,
            styles=len(style_layers),
        )
        channels = 4 if content.rgb and np.shape(data)[-1] == 4 else 3
        provenance_info = {
            "plugin": "napari-nst",
            "plugin_version": __version__,
            "content_layer": content.name,
            "style_layer": style.name,
            "content_planes": "all" if all_planes else list(indices[0]),
            "style_plane": list(style_index),
            "input_scaling": {"content": plane_note(content, indices[0]), "style": plane_note(style, style_index)},
            "mask_layer": None if mask_layer is None else mask_layer.name,
            "temporal_coherence": temporal,
        }
        if len(style_layers) > 1:
            provenance_info["style_layers"] = [layer.name for layer in style_layers]
            provenance_info["style_planes"] = [list(index) for _, index in style_planes]
        provenance_info.update(mask_info)
        lazy = lazy_levels(content) if is_lazy(content) else None
        job = StyleJob(
            content=data if lazy is None else lazy,
            content_limits=tuple(float(v) for v in content.contrast_limits),
            style=style_image if len(style_planes) == 1 else [image for image, _ in style_planes],
            indices=indices,
            stack_shape=stack_shape,
            out_hw=out_hw,
            channels=channels,
            options=options,
            **masks,
            temporal=temporal,
            preview_side=PREVIEW_FIT_MAX if not stack_shape and max(out_hw) > PREVIEW_FIT_MAX else 0,
            multiscale=result_levels(out_hw, lazy),
        )
        return job, {"provenance": provenance_info, "layer": content, "source_hw": plane_hw}


def _device(name: str) -> str:
    return name if name in ("auto", "cpu", "cuda", "mps") else "auto"
