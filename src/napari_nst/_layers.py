"""Layer <-> array conversion: what the engine sees of a napari layer, and how results come back.

The engine takes single images in [0, 1] (unsigned integers by their dtype's range). A napari
layer may be a stack, may be float outside [0, 1] or a wide integer shown through contrast
limits; we hand the engine what the user *sees*: ``uint8``, ``bool`` and floats already in
[0, 1] pass as they are, anything else is rescaled linearly from the layer's contrast
limits to [0, 1] and clipped. Results come back as new layers that cover the same world
extent as their input. Nothing here writes to an input layer or its data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nst_engine.images import max_side_shape

__all__ = [
    "leading_axes",
    "is_stack",
    "is_time_series",
    "layer_data",
    "current_index",
    "follow_plane",
    "plane_indices",
    "plane_of",
    "needs_rescale",
    "to_unit",
    "scaling_note",
    "unit_note",
    "output_hw",
    "output_geometry",
    "result_kwargs",
    "replace_layer",
    "at_plane",
    "put_plane",
    "mask_plane",
    "labels_to_content",
    "shapes_to_labels",
]


def leading_axes(layer: Any) -> int:
    """How many axes come before the image plane (time, z, ...): ``layer.ndim`` minus 2."""
    return max(0, int(layer.ndim) - 2)


#: The axis labels that mark a time axis (napari's own default labels are "-3", "0", ...).
TIME_LABELS = frozenset({"t", "time", "frame", "frames"})


def is_time_series(layer: Any) -> bool:
    """Whether the layer is a sequence of frames: one leading axis, labelled as time."""
    labels = getattr(layer, "axis_labels", ())
    return leading_axes(layer) == 1 and bool(labels) and str(labels[0]).strip().lower() in TIME_LABELS


def is_stack(layer: Any) -> bool:
    """Whether the layer holds more than one plane (a time or z stack, gray or RGB)."""
    lead = leading_axes(layer)
    return lead > 0 and int(np.prod(np.shape(layer_data(layer))[:lead])) > 1


def layer_data(layer: Any) -> Any:
    """The layer's full-resolution data (level 0 of a multiscale layer), not copied."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def current_index(layer: Any, viewer: Any) -> tuple[int, ...]:
    """Index of the plane the viewer shows, in the layer's own leading axes.

    Goes through world coordinates, so a layer with its own scale or translate (or fewer
    axes than the viewer) still gives the plane under the dims sliders.
    """
    lead = leading_axes(layer)
    if not lead:
        return ()
    position = np.asarray(layer.world_to_data(viewer.dims.point), dtype=float)[:lead]
    shape = np.shape(layer_data(layer))[:lead]
    return tuple(int(np.clip(round(p), 0, n - 1)) for p, n in zip(position, shape, strict=True))


def follow_plane(layer: Any, viewer: Any, shown: tuple[int, ...], index: tuple[int, ...]) -> None:
    """Move the dims sliders from plane ``shown`` to plane ``index`` of ``layer``, if they are on ``shown``.

    A stack's run shows the plane it works on, unless the user has moved elsewhere to look.
    """
    if not index or current_index(layer, viewer) != tuple(shown):
        return
    point = list(viewer.dims.point)
    data = list(layer.world_to_data(point))
    data[: len(index)] = index
    world = layer.data_to_world(data)
    first = len(point) - len(world)  # a layer's axes are the viewer's last ones
    for axis, value in enumerate(world[: len(index)]):
        viewer.dims.set_point(first + axis, value)


def plane_indices(layer: Any) -> Iterator[tuple[int, ...]]:
    """Every plane index of the layer, in C order (the order ``All planes`` warm-starts in)."""
    return np.ndindex(*np.shape(layer_data(layer))[: leading_axes(layer)])


def plane_of(data: Any, index: tuple[int, ...]) -> np.ndarray:
    """One plane as a numpy array (reads a dask or zarr plane too); the caller must not write."""
    return np.asarray(data[index] if index else data)


def needs_rescale(dtype: np.dtype, lo: float, hi: float) -> bool:
    """Whether data of ``dtype`` with values in [lo, hi] must go through the contrast limits."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8 or dtype.kind == "b":
        return False
    if np.issubdtype(dtype, np.floating):
        return lo < 0.0 or hi > 1.0
    return True


def to_unit(image: np.ndarray, contrast_limits: tuple[float, float]) -> np.ndarray:
    """``image`` as the engine should see it: unchanged, or a new float32 array in [0, 1].

    Floats are checked for their actual range (a float layer in [0, 1] is taken as is); a
    rescaled image maps the contrast limits to 0 and 1, as napari displays it. NaN stays NaN
    so that the engine reports it with its fix.
    """
    image = np.asarray(image)
    if image.size == 0 or image.dtype == np.uint8 or image.dtype == bool:
        return image
    if np.issubdtype(image.dtype, np.floating):
        finite = image[np.isfinite(image)]
        if not finite.size or not needs_rescale(image.dtype, float(finite.min()), float(finite.max())):
            return image
    low, high = (float(v) for v in contrast_limits)
    span = high - low if high > low else 1.0
    with np.errstate(invalid="ignore"):
        return np.clip((image.astype(np.float32) - np.float32(low)) / np.float32(span), 0.0, 1.0)


def scaling_note(layer: Any, image: np.ndarray) -> str:
    """How :func:`to_unit` treated ``image`` of ``layer``, for the provenance."""
    return unit_note(image, layer.contrast_limits)


def unit_note(image: np.ndarray, contrast_limits: tuple[float, float]) -> str:
    """How :func:`to_unit` treats ``image`` with ``contrast_limits``, for the provenance."""
    converted = to_unit(image, contrast_limits)
    if converted is image:
        return f"as is ({image.dtype})"
    low, high = (float(v) for v in contrast_limits)
    return f"rescaled from contrast limits [{low:g}, {high:g}] ({image.dtype})"


def output_hw(shape: tuple[int, ...], size: int | None) -> tuple[int, int]:
    """Height and width of a result whose longer side is ``size`` (None or 0: unchanged).

    The engine's own rule (:func:`nst_engine.images.max_side_shape`), so the result layer can
    be made at its final shape before the first preview arrives.
    """
    return max_side_shape(shape, size or None)


def output_geometry(
    layer: Any,
    source_hw: tuple[int, int],
    result_hw: tuple[int, int],
    *,
    leading: bool,
    plane: tuple[int, ...] = (),
) -> dict[str, tuple[float, ...]]:
    """``scale`` and ``translate`` that lay a resized result exactly over ``layer``.

    A result ``f`` times coarser than its input gets ``f`` times the layer's pixel size, and
    its first pixel centre moves by ``(f - 1) / 2`` input pixels; with no resizing both equal
    the layer's own. ``leading`` keeps the stack axes (a result with every plane); ``plane``
    places a one-plane result (leading axes of length 1) at that plane of the stack.
    """
    scale = np.asarray(layer.scale, dtype=float)
    translate = np.asarray(layer.translate, dtype=float)
    factor = np.asarray(source_hw, dtype=float) / np.asarray(result_hw, dtype=float)
    plane_scale = scale[-2:] * factor
    plane_translate = translate[-2:] + scale[-2:] * (factor - 1.0) / 2.0
    if leading or plane:
        lead_translate = translate[:-2] + scale[:-2] * np.asarray(plane or [0] * (len(scale) - 2), dtype=float)
        plane_scale = np.concatenate([scale[:-2], plane_scale])
        plane_translate = np.concatenate([lead_translate, plane_translate])
    return {"scale": tuple(plane_scale.tolist()), "translate": tuple(plane_translate.tolist())}


def result_kwargs(
    layer: Any,
    data: np.ndarray,
    *,
    name: str,
    metadata: dict,
    source_hw: tuple[int, int],
    leading: bool,
    rgb: bool,
    plane: tuple[int, ...] = (),
) -> dict[str, Any]:
    """``viewer.add_image`` keyword arguments of a result made from ``layer``.

    ``rgb`` and ``contrast_limits`` are explicit: napari guesses ``rgb`` only above 30 px a
    side, and float results are in [0, 1] whatever the input's range was.
    """
    hw = tuple(data.shape[-3:-1] if rgb else data.shape[-2:])
    limits = (0, 255) if data.dtype == np.uint8 else (0.0, 1.0)
    kwargs: dict[str, Any] = {
        "name": name,
        "rgb": rgb,
        "contrast_limits": limits,
        "metadata": metadata,
        **output_geometry(layer, source_hw, hw, leading=leading, plane=plane),
    }
    if not rgb:
        kwargs["colormap"] = layer.colormap.name
    return kwargs


def replace_layer(viewer: Any, old: Any, new: Any) -> Any:
    """Put layer ``new`` at ``old``'s place in the layer list, with ``old``'s opacity and blending.

    napari fixes ``multiscale`` when a layer is made, so a result that turns multiscale (or back)
    is a new layer; the user's place and look of the old one are kept.
    """
    # By id: napari hands plugins proxies of its layers, and two proxies of one layer differ.
    at = next(i for i, layer in enumerate(viewer.layers) if layer.unique_id == old.unique_id)
    new.opacity, new.blending = old.opacity, old.blending
    viewer.layers.pop(at)
    viewer.layers.insert(at, new)
    return viewer.layers[at]


def at_plane(image: np.ndarray, plane: tuple[int, ...]) -> np.ndarray:
    """``image`` with one length-1 axis per stack axis of ``plane`` (a view), for ``result_kwargs(plane=)``."""
    return np.asarray(image).reshape((1,) * len(plane) + np.shape(image))


def put_plane(stack: np.ndarray | None, stack_shape: tuple[int, ...], index: tuple[int, ...],
              plane: np.ndarray) -> np.ndarray:
    """A result so far with ``plane`` in it: ``plane`` itself for a one-plane result
    (``stack_shape`` ``()``), else ``stack`` (made at the first plane, zeros of its dtype) with
    ``plane`` at ``index``; planes never filled stay 0."""
    if not stack_shape:
        return plane
    if stack is None:
        stack = np.zeros(tuple(stack_shape) + plane.shape, plane.dtype)
    stack[index] = plane
    return stack


def shapes_to_labels(shapes: Any, layer: Any, hw: tuple[int, int]) -> np.ndarray:
    """A Shapes layer rasterised to an ``hw`` label image in ``layer``'s data coordinates.

    Shape ``k`` (in the layer's order) becomes label ``k + 1``; 0 is background, and a later
    shape covers an earlier one where they overlap. Each vertex goes from the shapes' data
    coordinates through world coordinates into ``layer``'s, so shapes drawn over a content
    layer with its own scale or translate land where they were drawn. Of a vertex in a
    stack, only the last two coordinates (the image plane) are used. ``shapes`` is not
    modified: a detached copy is rasterised.
    """
    from napari.layers import Shapes

    if not len(shapes.data):
        return np.zeros(hw, np.int32)
    moved = []
    for vertices in shapes.data:
        points = []
        for vertex in np.asarray(vertices, dtype=float):
            world = np.asarray(shapes.data_to_world(vertex), dtype=float)
            points.append(np.asarray(layer.world_to_data(world_point_in(world, layer.ndim)), dtype=float)[-2:])
        moved.append(np.asarray(points))
    detached = Shapes(moved, shape_type=list(shapes.shape_type))
    return np.asarray(detached.to_labels(labels_shape=tuple(hw)))


def world_point_in(world: np.ndarray, ndim: int) -> np.ndarray:
    """A world point with exactly ``ndim`` coordinates (leading ones dropped or set to 0)."""
    if len(world) >= ndim:
        return world[len(world) - ndim :]
    return np.concatenate([np.zeros(ndim - len(world)), world])


def mask_plane(mask: Any, layer: Any, hw: tuple[int, int], index: tuple[int, ...]) -> np.ndarray:
    """The mask the engine gets for content ``layer`` (plane height and width ``hw``): a copy.

    A Labels layer gives its plane at ``index`` (the plane under the sliders) through
    :func:`labels_to_content`; a Shapes layer is rasterised with :func:`shapes_to_labels`.
    Either way an integer label image in content coordinates that the engine resizes to the
    run's size.
    """
    if hasattr(mask, "to_labels"):
        return shapes_to_labels(mask, layer, hw)
    return labels_to_content(mask, layer, hw, index)


def labels_to_content(labels: Any, layer: Any, hw: tuple[int, int], index: tuple[int, ...]) -> np.ndarray:
    """``labels``' plane at ``index`` in ``layer``'s ``hw`` pixel grid: a copy.

    Each content pixel takes the label under its centre (nearest), found through world
    coordinates, so a label image at another resolution, offset or rotation applies where
    napari draws it; content pixels it does not cover get 0. A label image with the
    content's shape and placement is copied as is.
    """
    plane = np.asarray(plane_of(layer_data(labels), index))
    leading = [0.0] * (layer.ndim - 2)

    def in_labels(row: float, col: float) -> np.ndarray:
        world = np.asarray(layer.data_to_world([*leading, row, col]), dtype=float)
        return np.asarray(labels.world_to_data(world_point_in(world, labels.ndim)), dtype=float)[-2:]

    origin = in_labels(0, 0)
    down, right = in_labels(1, 0) - origin, in_labels(0, 1) - origin
    if plane.shape == tuple(hw) and np.allclose(origin, 0) and np.allclose([down, right], np.eye(2)):
        return np.array(plane, copy=True)
    rows, cols = np.meshgrid(np.arange(hw[0]), np.arange(hw[1]), indexing="ij", sparse=True)
    # Label pixel k spans [k - 0.5, k + 0.5) in its data coordinates, as napari draws it.
    at_row = np.floor(origin[0] + down[0] * rows + right[0] * cols + 0.5).astype(np.intp)
    at_col = np.floor(origin[1] + down[1] * rows + right[1] * cols + 0.5).astype(np.intp)
    inside = (at_row >= 0) & (at_row < plane.shape[0]) & (at_col >= 0) & (at_col < plane.shape[1])
    out = np.zeros(tuple(hw), dtype=plane.dtype)
    out[inside] = plane[at_row[inside], at_col[inside]]
    return out
