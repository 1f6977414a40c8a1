"""Color Transfer's batch path: Apply to every selected layer, through the batch API.

Each selected layer (its plane under the sliders, or with ``all planes`` every plane of a
stack) is recoloured by a worker process of a local Dask cluster, in parallel
(:mod:`napari_nst._batch_jobs`). All planes of *one* stack stay in this process
(:mod:`napari_nst._color_jobs`): a plane's color transfer takes milliseconds to a second,
less than the seconds a cluster takes to start.
"""

from __future__ import annotations

from typing import Any

from nst_engine.errors import OptionError

from .. import __version__
from .._batch_jobs import BatchOutcome, BatchRequest
from .._layers import current_index
from .._lazy import capture_plane, plane_note
from ._batch_run import batch_groups, contents, show_results
from ._common import ALL_PLANES

__all__ = ["make_color_batch", "show_color_batch"]


def make_color_batch(widget: Any, *, method: str, options: dict) -> tuple[BatchRequest, dict]:
    """The batch of an Apply to every selected layer, and what its result layers need; raises ``NstError``."""
    reference = widget.reference.value
    if reference is None:
        raise OptionError("choose a reference Image layer")
    viewer = widget._viewer
    layers = contents(widget.source.value, viewer, exclude=[reference])
    groups = batch_groups(layers, viewer, all_planes=widget.planes.value == ALL_PLANES)
    index = current_index(reference, viewer)
    image = capture_plane(reference, index)
    request = BatchRequest("color", groups, (image,), {"method": method, "options": dict(options)})
    provenance = {"plugin": "napari-nst", "plugin_version": __version__, "reference_layer": reference.name,
                  "reference_plane": list(index)}
    scaling = {"reference": plane_note(reference, index)}
    return request, {"layers": layers, "provenance": provenance, "role": "source", "other_scaling": scaling,
                     "method": method}


def show_color_batch(viewer: Any, status: Any, outcome: BatchOutcome, info: dict) -> list[Any]:
    """Add each source layer's result, named as Apply names it, and say how the batch went."""
    return show_results(viewer, status, outcome, info, what="Color transfer",
                        name=lambda layer: f"{layer.name} [{info['method']}]", rgb=lambda layer: bool(layer.rgb))
