"""The Fast Style widget's result layers: one per content layer and model, filled plane by plane.

A result layer covers the content's whole stack at the run's size, RGBA float32: a plane not
done yet has alpha 0, so the content shows through it. A large result, or one of a multiscale
content, is a multiscale layer whose every level is the whole stack, made empty here; the
worker halves each plane it finishes (:mod:`napari_nst._multiscale`) and puts its levels
into the arrays :func:`level_arrays` hands it. Its ``metadata["nst"]`` records the model file, its SHA-256 and
provenance, the options and the planes done; ``config`` says with which settings, so a run
with the same settings skips the planes done and one with others starts the layer afresh.
No Qt: the widget calls these on the main thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image

from . import __version__
from ._fast_jobs import LoadedModel
from ._layers import leading_axes, output_geometry, replace_layer, result_kwargs
from ._lazy import plane_note
from ._multiscale import level_shapes, levels_record

__all__ = ["KIND", "result_name", "result_layer", "level_arrays", "planes_done", "mark_done", "fast_provenance"]

#: ``metadata["nst"]["kind"]`` of a Fast Style result.
KIND = "fast_style"


def result_name(layer: Any, loaded: LoadedModel) -> str:
    """``<content> fast (<model file stem>)``."""
    return f"{layer.name} fast ({Path(loaded.path).stem})"


def result_layer(viewer: Any, layer: Any, loaded: LoadedModel, config: dict, *, shape: tuple[int, ...],
                 source_hw: tuple[int, int], index: tuple[int, ...], levels: int = 0) -> Any:
    """The result layer of ``layer`` and the model for ``config``: reused, emptied or added.

    ``shape`` is the content's stack shape and the run's height and width; ``index`` the plane
    under the sliders (for the provenance's input scaling); ``levels`` 0 for one array, else the
    least number of levels of a multiscale layer (:func:`napari_nst._multiscale.result_levels`),
    each level the whole stack, which the worker fills plane by plane.
    """
    name = result_name(layer, loaded)
    existing = next((found for found in viewer.layers
                     if found.name == name and found.metadata.get("nst", {}).get("kind") == KIND), None)
    shapes = _level_shapes(tuple(shape), levels)
    if existing is not None and existing.metadata["nst"].get("config") == config and _shapes_of(existing) == shapes:
        return existing
    data = [np.zeros(level, np.float32) for level in shapes]  # alpha 0: planes not done show the content through
    multiscale = bool(levels)
    value = data if multiscale else data[0]
    nst = fast_provenance(layer, loaded, config, index=index)
    if multiscale:
        nst["napari"]["multiscale_levels"] = levels_record(data, rgb=True)
    leading = leading_axes(layer) > 0
    if existing is not None and existing.multiscale == multiscale:
        geometry = output_geometry(layer, source_hw, shapes[0][-3:-1], leading=leading)
        existing.data = value
        existing.scale, existing.translate = geometry["scale"], geometry["translate"]
        existing.contrast_limits = (0.0, 1.0)
        existing.metadata = {**dict(existing.metadata), "nst": nst}
        return existing
    kwargs = result_kwargs(layer, data[0], name=name, metadata={"nst": nst}, source_hw=source_hw,
                           leading=leading, rgb=True)
    if existing is None:
        return viewer.add_image(value, multiscale=multiscale, **kwargs)
    return replace_layer(viewer, existing, Image(value, multiscale=multiscale, **kwargs))


def _level_shapes(shape: tuple[int, ...], levels: int) -> list[tuple[int, ...]]:
    """The RGBA shape of each level of a result layer of stack and plane ``shape``."""
    if not levels:
        return [shape + (4,)]
    return [shape[:-2] + hw + (4,) for hw in level_shapes(shape[-2:], levels=levels)]


def _shapes_of(output: Any) -> list[tuple[int, ...]]:
    return [tuple(level.shape) for level in output.data] if output.multiscale else [tuple(output.data.shape)]


def level_arrays(output: Any) -> tuple[np.ndarray, ...]:
    """The arrays of result layer ``output`` (its levels, full resolution first) the worker fills."""
    return tuple(output.data) if output.multiscale else (output.data,)


def planes_done(output: Any) -> set[tuple[int, ...]]:
    """The planes of a result layer done with its ``config``."""
    return {tuple(p) for p in output.metadata.get("nst", {}).get("planes_done", [])}


def mark_done(output: Any, planes: Iterable[tuple[int, ...]], *, state: str) -> None:
    """Record ``planes`` as done and the run's ``state`` in the layer's provenance."""
    nst = dict(output.metadata.get("nst", {}))
    done = planes_done(output) | {tuple(p) for p in planes}
    output.metadata = {**dict(output.metadata), "nst": {**nst, "planes_done": [list(p) for p in sorted(done)],
                                                         "state": state}}


def fast_provenance(layer: Any, loaded: LoadedModel, config: dict, *, index: tuple[int, ...]) -> dict:
    """What ``metadata["nst"]`` records: the model file and its SHA-256, options, planes done."""
    return {
        "kind": KIND,
        "model_file": loaded.path,
        "model_sha256": loaded.sha256,
        "model": loaded.model.describe(),
        "options": dict(config["options"]),
        "size": config["size"],
        "config": config,
        "planes_done": [],
        "state": "empty",
        "napari": {
            "plugin": "napari-nst",
            "plugin_version": __version__,
            "content_layer": layer.name,
            "style_layer": config["style_layer"],
            "style_plane": config["style_plane"],
            "input_scaling": plane_note(layer, index),
        },
    }
