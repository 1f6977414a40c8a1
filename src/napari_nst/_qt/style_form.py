"""The Style Transfer form: every choice the registry offers, with the options forms of its entries.

It knows how to turn itself into ``iter_stylize`` keyword arguments and a
:class:`~napari_nst._workers.StyleJob` (plain arrays captured on the main thread); running
the job is :class:`~napari_nst._qt.style_transfer.StyleTransferWidget`'s part.
"""

from __future__ import annotations

import inspect
from typing import Any

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox

from nst_engine import list_backbones, list_color_transfers, list_losses, list_optimizers
from nst_engine.errors import OptionError
from nst_engine.pipeline import iter_stylize

from .. import __version__
from .._forms import EntryPicker, LossWeights
from .._layers import (
    is_stack,
    layer_data,
    leading_axes,
    output_hw,
    plane_indices,
    plane_of,
    scaling_note,
)
from .._settings import run_settings
from .._workers import StyleJob
from ._common import ALL_PLANES, engine_ready, image_picker, layer_plane, plane_picker, sync_planes

__all__ = ["StyleTransferForm", "COLOR_MODES", "supports_color"]

_DEFAULTS = {p.name: p.default for p in inspect.signature(iter_stylize).parameters.values()}

#: Color preservation: keep the content's colors by luminance-only transfer, or recolour the
#: style image before the run, or the result after it, with a registered color transfer.
COLOR_MODES = ("none", "luminance", "before", "after")


def supports_color() -> bool:
    """Whether this engine's ``iter_stylize`` takes ``color`` (color preservation)."""
    return _accepts("color")


class StyleTransferForm(Container):
    """The Style Transfer form: inputs, registry choices with their options, run settings.

    :meth:`make_job` turns it into a :class:`~napari_nst._workers.StyleJob`; the widget
    subclass runs it.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        engine_ready()
        self._viewer = viewer
        settings = run_settings()

        self.content = image_picker(
            viewer, name="content", label="content", tooltip="the image to stylise; never modified"
        )
        self.style = image_picker(viewer, name="style", label="style", tooltip="the image whose style is transferred")
        self.planes = plane_picker(
            tooltip="a stack: the plane under the sliders, or every plane, each warm-started from the previous result"
        )
        self.backbone = EntryPicker("backbones", label="backbone", value="vgg19", names=list_backbones)
        self.optimizer = EntryPicker("optimizers", label="optimizer", value="lbfgs", names=list_optimizers)
        self.losses = LossWeights(list_losses())
        self.losses.label = "loss weights"
        self.steps = SpinBox(
            name="steps", value=_DEFAULTS["steps"], min=1, max=100_000, tooltip="optimizer iterations over all scales"
        )
        self.size = SpinBox(
            name="size", value=_DEFAULTS["size"] or 0, min=0, max=16_384,
            tooltip="longer side of the result in pixels (0: the content's own)",
        )
        self.scales = SpinBox(name="scales", value=_DEFAULTS["scales"], min=1, max=8, tooltip="coarse-to-fine scales")
        self.style_scale = FloatSpinBox(
            name="style_scale", label="style scale", value=_DEFAULTS["style_scale"], min=0.05, max=10.0, step=0.05,
            tooltip="style image size relative to the content: larger means larger brush strokes",
        )
        self.init = ComboBox(name="init", choices=["content", "noise", "style"], value=_DEFAULTS["init"])
        self.seed = SpinBox(name="seed", value=_DEFAULTS["seed"], min=0, max=2**31 - 1)
        self.device = ComboBox(name="device", choices=["auto", "cpu", "cuda", "mps"], value=_device(settings.device))
        self.color = ComboBox(
            name="color", label="color", choices=list(COLOR_MODES), value="none",
            tooltip="preserve the content's colors: luminance-only transfer, or a color transfer "
            "before (on the style image) or after (on the result)",
        )
        self.color_transfer = EntryPicker(
            "color_transfers", label="transfer", names=list_color_transfers, value="reinhard", name="color_transfer"
        )
        self.dynamic_weights = CheckBox(
            name="dynamic_weights", text="dynamic weights", value=False,
            tooltip="rebalance content and style weights while running (dynamic-weighting paper)",
            visible=_accepts("dynamic_weights"),
        )
        self.run_button = PushButton(name="run", text="Run")
        self.cancel_button = PushButton(name="cancel", text="Cancel", enabled=False)
        self.status = Label(name="status", label="", value="")
        super().__init__(
            widgets=[
                self.content, self.style, self.planes, *self.backbone.widgets, *self.optimizer.widgets, self.losses,
                self.steps, self.size, self.scales, self.style_scale, self.init, self.seed, self.device,
                self.dynamic_weights, self.color, *self.color_transfer.widgets,
                Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False),
                self.status,
            ],
            labels=True,
        )
        self._color_changed()
        self.content.changed.connect(self._content_changed)
        self.color.changed.connect(self._color_changed)
        self._content_changed()

    def _content_changed(self, *_: Any) -> None:
        sync_planes(self.planes, self.content.value)

    def _color_changed(self, *_: Any) -> None:
        shown = self.color.value in ("before", "after")
        for widget in self.color_transfer.widgets:
            widget.visible = shown

    def reset_choices(self, *_: Any) -> None:
        """Refresh layer and registry choices (napari calls this on layer changes)."""
        super().reset_choices()
        self._content_changed()

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
            "style_scale": float(self.style_scale.value),
            "init": self.init.value,
            "seed": int(self.seed.value),
            "device": self.device.value,
            "threads": settings.torch_threads,
            "preview_every": settings.preview_interval,
        }
        color = self.color_option()
        if color != "none":
            if not supports_color():
                raise OptionError(
                    "this nst_engine's iter_stylize has no color preservation (no 'color' option); "
                    "set color to none, or update napari-nst"
                )
            options["color"] = color
            if color.startswith(("before:", "after:")) and _accepts("color_options"):
                options["color_options"] = self.color_transfer.options()
        if self.dynamic_weights.value:
            options["dynamic_weights"] = True
        return options

    def make_job(self) -> tuple[StyleJob, dict]:
        """Capture a run's inputs and options, and what the result layer needs to know.

        Runs on the main thread; raises ``NstError`` on bad input.
        """
        content, style = self.content.value, self.style.value
        if content is None or style is None:
            raise OptionError(
                "choose a content and a style Image layer (File > Open Sample > Neural Style Transfer has a pair)"
            )
        options = self.engine_options()
        style_image, style_index = layer_plane(style, self._viewer)
        style_raw = plane_of(layer_data(style), style_index)
        data = layer_data(content)
        lead = leading_axes(content)
        all_planes = self.planes.value == ALL_PLANES and is_stack(content)
        if all_planes:
            indices = tuple(plane_indices(content))
            stack_shape = tuple(np.shape(data)[:lead])
        else:
            indices = (layer_plane(content, self._viewer)[1],)
            stack_shape = ()
        plane_hw = tuple(np.shape(data)[lead : lead + 2])
        first = plane_of(data, indices[0])
        channels = 4 if content.rgb and np.shape(data)[-1] == 4 else 3
        provenance_info = {
            "plugin": "napari-nst",
            "plugin_version": __version__,
            "content_layer": content.name,
            "style_layer": style.name,
            "content_planes": "all" if all_planes else list(indices[0]),
            "style_plane": list(style_index),
            "input_scaling": {"content": scaling_note(content, first), "style": scaling_note(style, style_raw)},
        }
        job = StyleJob(
            content=data,
            content_limits=tuple(float(v) for v in content.contrast_limits),
            style=style_image,
            indices=indices,
            stack_shape=stack_shape,
            out_hw=output_hw(plane_hw, options["size"]),
            channels=channels,
            options=options,
        )
        return job, {"provenance": provenance_info, "layer": content, "source_hw": plane_hw}


def _accepts(name: str) -> bool:
    """Whether this engine's ``iter_stylize`` has the keyword ``name`` (newer engines add some)."""
    return name in inspect.signature(iter_stylize).parameters


def _device(name: str) -> str:
    return name if name in ("auto", "cpu", "cuda", "mps") else "auto"
