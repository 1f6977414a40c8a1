"""Style Transfer's batch path: every selected layer, or all planes in parallel, through the batch API.

Every plane is an independent run, so no plane warm-starts from another; in exchange the planes
run at once on a local Dask cluster (:mod:`napari_nst._batch_jobs`). :func:`make_batch` turns
the form into a :class:`~napari_nst._batch_jobs.BatchRequest` on the main thread;
:func:`show_batch` adds one result layer per content layer when it has ended.
"""

from __future__ import annotations

from typing import Any

from nst_engine.errors import OptionError

from .. import __version__
from .._batch_jobs import BatchOutcome, BatchRequest
from .._lazy import plane_note
from ._batch_run import batch_groups, contents, show_results
from ._common import ALL_PLANES, SELECTED_LAYERS

__all__ = ["uses_batch", "make_batch", "show_batch"]


def uses_batch(form: Any) -> bool:
    """Whether Run goes through the batch API: every selected layer, or all planes without a warm start."""
    if form.content.value is SELECTED_LAYERS:
        return True
    return form.planes.value == ALL_PLANES and not form.warm_start.value and form.content.value is not None


def make_batch(form: Any) -> tuple[BatchRequest, dict]:
    """The batch a Style Transfer form describes, and what its result layers need; raises ``NstError``."""
    options, style_layers, style_planes = form.style_inputs()
    if form.mask.value is not None:
        why = "every selected layer" if form.content.value is SELECTED_LAYERS else "all planes without a warm start"
        raise OptionError(
            f"a mask cannot be used with {why}: those planes run in parallel as a batch, which takes no mask. "
            "Choose no mask, or run one layer with all planes and warm start ticked (a Labels layer with one "
            "plane per content plane then gives each plane its own mask)"
        )
    viewer = form._viewer
    layers = contents(form.content.value, viewer, exclude=style_layers)
    groups = batch_groups(layers, viewer, all_planes=form.planes.value == ALL_PLANES)
    workers = int(form.workers.value) or None
    request = BatchRequest("stylize", groups, tuple(image for image, _ in style_planes), options, workers=workers)
    style, (_, style_index) = style_layers[0], style_planes[0]
    provenance = {
        "plugin": "napari-nst",
        "plugin_version": __version__,
        "style_layer": style.name,
        "style_plane": list(style_index),
        "mask_layer": None,
        "warm_start": None,
    }
    if len(style_layers) > 1:
        provenance["style_layers"] = [layer.name for layer in style_layers]
        provenance["style_planes"] = [list(index) for _, index in style_planes]
    scaling = {"style": plane_note(style, style_index)}
    return request, {"layers": layers, "provenance": provenance, "role": "content", "other_scaling": scaling}


def show_batch(viewer: Any, status: Any, outcome: BatchOutcome, info: dict) -> list[Any]:
    """Add each content layer's result (named as an in-process run's) and say how the batch went."""
    styles = ", ".join(info["provenance"].get("style_layers", [info["provenance"]["style_layer"]]))
    return show_results(viewer, status, outcome, info, what="Style transfer",
                        name=lambda layer: f"{layer.name} styled ({styles})", rgb=lambda layer: True)
