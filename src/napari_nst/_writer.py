"""File > Save Selected Layers for Image layers: PNG or TIFF with the layer's provenance.

napari's own writers drop ``layer.metadata``, so a saved result would forget how it was
made. This npe2 writer goes through :func:`nst_engine.files.write_image`: the provenance
JSON lands in the PNG's ``nst`` text chunk or the TIFF's image description and in a
``<file>.json`` sidecar, and every file is written under a temporary name and renamed into
place, so a failed save leaves no file behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari
import numpy as np

from nst_engine.errors import ImageError, NstError
from nst_engine.files import sidecar_path, write_image
from nst_engine.images import to_unit_float

from . import __version__
from ._layers import to_unit

__all__ = ["EXTENSIONS", "SaveFailed", "write_image_layer", "saved_provenance"]

#: What the writer offers; PNG first, so a name without an extension becomes a PNG.
EXTENSIONS = (".png", ".tif", ".tiff")


class SaveFailed(NstError):
    """Why a layer was not saved.

    Deliberately not a ``ValueError`` (as the engine's ``ImageError`` is): napari takes a
    writer's ``ValueError`` for "no writer found" and would only warn that napari-nst is not
    a valid writer for the path, hiding the cause.
    """


def write_image_layer(path: str, data: Any, meta: dict) -> list[str]:
    """Write one Image layer (npe2's single-layer writer signature); returns the files written.

    A plane becomes an 8-bit PNG or a 16-bit TIFF; a stack (leading axes) becomes a
    multi-page TIFF. Unsigned integers keep their values (by their dtype's range), floats in
    [0, 1] are taken as they are, anything else is rescaled from the contrast limits.
    Raises :class:`SaveFailed` with the cause; nothing is written then.
    """
    target = Path(path)
    try:
        written = _write(target, data, meta)
    except ImageError as exc:
        raise SaveFailed(f"cannot save layer {meta.get('name')!r} as {target}: {exc}") from None
    return [str(written), str(sidecar_path(written))]


def _write(target: Path, data: Any, meta: dict) -> Path:
    if target.suffix.lower() not in EXTENSIONS:
        raise ImageError(f"napari-nst writes {', '.join(EXTENSIONS)} files, not {target.suffix or 'no extension'}")
    if not target.parent.is_dir():
        raise ImageError(f"the folder {target.parent} does not exist")
    rgb = bool(meta.get("rgb", False))
    image = np.asarray(data[0] if meta.get("multiscale") else data)
    plane_ndim = 3 if rgb else 2
    if image.ndim > plane_ndim and int(np.prod(image.shape[: image.ndim - plane_ndim])) == 1:
        image = image.reshape(image.shape[image.ndim - plane_ndim :])
    if image.ndim > plane_ndim and target.suffix.lower() == ".png":
        raise ImageError(
            f"a PNG holds one image and this layer is a stack of shape {image.shape}; "
            "save it as .tif (one page per plane)"
        )
    unit, scaling = _to_unit(image, tuple(meta.get("contrast_limits") or (0.0, 1.0)))
    return write_image(target, unit, provenance=saved_provenance(meta, scaling), rgb=rgb)


def saved_provenance(meta: dict, scaling: str) -> dict:
    """The layer's ``metadata["nst"]`` as it is, or a stub naming the napari layer it came from."""
    nst = (meta.get("metadata") or {}).get("nst")
    if nst:
        return nst
    return {
        "kind": "napari_layer",
        "napari": {
            "layer": meta.get("name"),
            "napari_version": napari.__version__,
            "plugin_version": __version__,
            "data_scaling": scaling,
            "note": "not made by napari-nst, so there is no engine provenance",
        },
    }


def _to_unit(image: np.ndarray, contrast_limits: tuple[float, float]) -> tuple[np.ndarray, str]:
    """``image`` as floats in [0, 1] for the engine's writer, and how it got there."""
    if image.dtype == bool or np.issubdtype(image.dtype, np.unsignedinteger):
        return to_unit_float(image), f"by the range of {image.dtype}"
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ImageError("the layer contains NaN or Inf; replace them (np.nan_to_num) before saving")
    unit = to_unit(image, contrast_limits)
    if unit is image:
        return image.astype(np.float32), f"as is ({image.dtype})"
    low, high = (float(v) for v in contrast_limits)
    return unit, f"rescaled from contrast limits [{low:g}, {high:g}] ({image.dtype})"
