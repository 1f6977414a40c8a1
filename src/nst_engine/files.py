"""Reading and writing image files; outputs appear whole or not at all, with their provenance.

PNG carries the provenance JSON in an ``nst`` text chunk, TIFF and BigTIFF in their image
description, OME-Zarr in its root attributes (under ``nst``), and every output gets a
``<name>.json`` sidecar. Each output is written to a temporary name in the same folder
and renamed into place (an OME-Zarr folder too), so a crash or a cancel never leaves a
partial one; the image and its sidecar are renamed together under a lock on their folder,
so two runs writing the same output leave one run's pair, never one's image with the
other's sidecar. TIFF and Zarr files above the pixel limit are read through the lazy
route (:mod:`nst_engine.large_reading`) when a smaller size is asked for.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

from . import large_reading, large_writing
from .errors import ImageError
from .image_reading import (
    ImageTooLarge,
    decode_image,
    image_too_large,
    max_image_pixels,
)
from .images import to_uint
from .output_formats import OUTPUT_FORMATS, output_format
from .schedule import max_side_shape

try:
    import fcntl
except ImportError:  # Windows: renames stay atomic one by one, the pair is not locked
    fcntl = None

__all__ = [
    "OUTPUT_FORMATS", "atomic_write", "check_not_an_input", "check_output", "output_format", "read_image", "read_provenance",
    "sidecar_path", "write_image",
]



def read_image(path: str | os.PathLike, *, max_pixels: int | None = None, max_side: int | None = None) -> np.ndarray:
    """Read a PNG, JPEG, TIFF or Zarr image: integer dtype kept, colours converted to sRGB.

    Files that would decode to more than ``max_pixels`` (default ``$NST_MAX_IMAGE_PIXELS``,
    else 2^28) are refused from their header, before any memory is spent on them, unless
    ``max_side`` is smaller than their longer side and they are a TIFF or a Zarr: those are
    read at that longer side through :func:`nst_engine.large_reading.read_reduced`, which
    holds the result and one chunk in memory, not the image. Zarr images are read as stored.
    """
    path = Path(path)
    if large_reading.is_zarr(path):
        limit = max_image_pixels(max_pixels)
        with large_reading.open_image(path) as image:
            rows, cols = image.shape[:2]
            if rows * cols <= limit:
                return np.asarray(image.levels[0].compute())
            if max_side is None or max(rows, cols) <= max_side:
                raise image_too_large(path, rows * cols, image.shape, limit, side=max(rows, cols), lazy=True)
            return large_reading.read_reduced(image, max_side_shape((rows, cols), max_side))
    try:
        return decode_image(path, max_pixels=max_pixels)
    except ImageTooLarge as refused:
        if not refused.lazy or max_side is None or refused.side <= max_side:
            raise
    with large_reading.open_image(path) as image:
        return large_reading.read_reduced(image, max_side_shape(image.shape[:2], max_side))


def check_output(path: str | os.PathLike, *, alpha: bool = False, sidecar: bool = True,
                 format: str | None = None, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output path that :func:`write_image` could not write, before any work is done.

    Checks the extension (and that it fits ``format``, see :func:`output_format`), that the
    folder exists and takes a new file, that the image is not a folder (an OME-Zarr may only
    replace an OME-Zarr), that it is none of the run's ``inputs`` (:func:`check_not_an_input`),
    that ``alpha`` (an RGBA or gray+alpha result) is not going to JPEG, and, with ``sidecar``,
    that ``NAME.json`` is not a folder. Returns the path.
    """
    path = Path(path)
    check_not_an_input(path, inputs)
    zarr = path.suffix.lower() == ".zarr"
    if path.is_dir() and not zarr:
        raise ImageError(f"cannot write {path}: it is a folder; name a file in it, e.g. {path / 'out.png'}")
    fmt = output_format(path, format=format)
    if zarr and path.exists() and not large_reading.is_zarr(path):
        what = "a folder that is not a Zarr" if path.is_dir() else "a file"
        raise ImageError(f"cannot write {path}: it is {what}, which an OME-Zarr output would replace; "
                         "remove it or choose another name")
    check_writable(path.parent, path)
    if alpha and fmt == "jpeg":
        raise ImageError(f"JPEG has no alpha channel; write {path.stem}.png to keep the transparency")
    if sidecar and sidecar_path(path).is_dir():
        raise ImageError(f"cannot write {path}: its provenance {sidecar_path(path)} is a folder; remove it or rename the output")
    return path


def check_not_an_input(output: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output that is one of the run's inputs: writing it would replace that file or frame folder.

    Compared as files (``os.path.samefile``), so another spelling of the path or a link to it is caught too.
    """
    output = Path(output)
    if not output.exists():
        return
    for given in inputs:
        if Path(given).exists() and os.path.samefile(output, given):
            other = output.with_name(f"{output.stem}-styled{output.suffix}")
            raise ImageError(f"cannot write {output}: it is the input {given}, which is never overwritten; "
                             f"name another output, e.g. {other}")


def check_writable(folder: Path, path: Path) -> None:
    """Refuse writing ``path`` into ``folder`` unless the folder exists and takes a new file (tried, not guessed)."""
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ImageError(f"cannot write {path}: {folder} {what}; create the folder or choose another path")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise ImageError(f"cannot write to {folder}: {exc.strerror or exc}; choose a folder you can write to") from None
    os.close(fd)
    os.unlink(probe)


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the provenance JSON of ``path`` goes: ``out.png`` -> ``out.png.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


@contextlib.contextmanager
def _folder_lock(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold ``flock`` on the folder itself: no lock file is left behind, even after a kill."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _temporary(path: Path) -> Path:
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as exc:
        raise ImageError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp's 0600 would make outputs private
    return Path(name)


def _temporary_folder(path: Path) -> Path:
    try:
        name = tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    except OSError as exc:
        raise ImageError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    os.chmod(name, 0o777 & ~_umask())  # mkdtemp's 0700 would make outputs private
    return Path(name)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _replace_folder(tmp: Path, path: Path) -> None:
    """Rename the folder ``tmp`` onto ``path``; an old ``path`` is moved aside first and deleted after.

    Between the two renames ``path`` is absent, never half written.
    """
    if not path.exists():
        os.replace(tmp, path)
        return
    aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
    os.replace(path, aside)  # onto the empty folder mkdtemp made: the name stays unique
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(aside, path)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)`` and rename the result onto ``path``; clean up on failure."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_pair(path: Path, write: Callable[[Path], None], sidecar_text: str | None, *, folder: bool = False) -> None:
    """Write the image (a folder with ``folder``) and its sidecar (``None``: none, a stale one is removed) as one change."""
    sidecar = sidecar_path(path)
    place = _replace_folder if folder else os.replace
    temporaries = [_temporary_folder(path) if folder else _temporary(path)]
    try:
        write(temporaries[0])
        if sidecar_text is not None:
            temporaries.append(_temporary(sidecar))
            temporaries[1].write_text(sidecar_text)
        with _folder_lock(path.parent):
            if sidecar_text is None:
                sidecar.unlink(missing_ok=True)
                place(temporaries[0], path)
                return
            try:
                os.replace(temporaries[1], sidecar)
            finally:
                # Once the sidecar is in place the image must follow, even when a signal
                # arrives between the two renames.
                if not temporaries[1].exists():
                    place(temporaries[0], path)
    except BaseException:
        for tmp in temporaries:
            _remove(tmp)
        raise


def _stored(image: Any) -> Any:
    """A float image in [0, 1] as 16-bit integers (a dask array chunk by chunk); integers as they are."""
    if np.issubdtype(image.dtype, np.integer):
        return image
    if hasattr(image, "map_blocks"):
        return image.map_blocks(to_uint, np.uint16, dtype=np.uint16)
    return to_uint(image, np.uint16)


def write_image(
    path: str | os.PathLike, image: Any, *, provenance: dict | None = None, rgb: bool | None = None,
    format: str | None = None,
) -> Path:
    """Write a float image in [0, 1] (``H×W``, ``H×W×3`` or ``H×W×4``) atomically.

    PNG and JPEG are written with 8 bits per channel, TIFF with 16. A TIFF may also hold a
    stack (leading axes, one page per plane) when ``rgb`` says whether the last axis is
    color: left to guess, tifffile takes a gray stack of 3 or 4 planes for one RGB(A) image.
    ``format`` (:data:`OUTPUT_FORMATS`; default: the extension's) may ask for ``"bigtiff"``
    (tiled, with a pyramid) or ``"ome-zarr"`` (a ``.zarr`` folder), which also take a lazy
    dask array, written a strip or chunk at a time, and integer images, written as stored.
    The path is checked (:func:`check_output`) before anything is encoded. Returns the path.
    """
    alpha = image.ndim == 3 and image.shape[-1] in (2, 4) and rgb is not False
    path = check_output(path, alpha=alpha, sidecar=provenance is not None, format=format)
    fmt = output_format(path, format=format)
    text = json.dumps(provenance, default=str) if provenance is not None else None
    # tifffile takes a JSON description with a "shape" key anywhere in it for its own shaped
    # metadata and fails to read the file; the same JSON with that key's "s" escaped is not taken.
    described = text.replace('"shape":', '"\\u0073hape":') if text is not None else None

    def write(tmp: Path) -> None:
        if fmt == "bigtiff":
            large_writing.write_bigtiff(tmp, _stored(image), description=described, rgb=rgb)
        elif fmt == "ome-zarr":
            large_writing.write_ome_zarr(tmp, _stored(image), attributes={"nst": provenance} if text else None)
        elif fmt == "tiff":
            photometric = None if rgb is None else "rgb" if rgb else "minisblack"
            tifffile.imwrite(tmp, to_uint(image, np.uint16), description=described, photometric=photometric)
        elif fmt == "png":
            info = PngImagePlugin.PngInfo()
            if text is not None:
                info.add_itxt("nst", text)
            Image.fromarray(to_uint(image, np.uint8)).save(tmp, format="PNG", pnginfo=info)
        else:
            Image.fromarray(to_uint(image, np.uint8)).save(tmp, format="JPEG", quality=95, comment=(text or "").encode())

    sidecar_text = json.dumps(provenance, indent=2, default=str) if provenance is not None else None
    _write_pair(path, write, sidecar_text, folder=fmt == "ome-zarr")
    return path


def _embedded_provenance(path: Path) -> str | dict | None:
    """The provenance stored in the image itself: PNG text chunk, TIFF description, Zarr attributes."""
    if large_reading.is_zarr(path):
        import zarr

        return dict(zarr.open_group(str(path), mode="r").attrs).get("nst")
    if not path.is_file():
        return None
    if path.suffix.lower() == ".png":
        with Image.open(path) as im:
            return im.text.get("nst") if hasattr(im, "text") else None
    if path.suffix.lower() in (".tif", ".tiff"):
        with tifffile.TiffFile(path) as tif:
            text = tif.pages[0].description
        return text if text.startswith("{") and '"shape"' not in text[:12] else None
    return None


def read_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance of an output: its sidecar JSON, else what the image holds, else ``None``.

    The image holds it in a PNG's ``nst`` text chunk, a TIFF's description or an OME-Zarr's
    ``nst`` attribute.
    """
    path = Path(path)
    sidecar = sidecar_path(path)
    with _folder_lock(path.parent, shared=True) if path.parent.is_dir() else contextlib.nullcontext():
        if sidecar.is_file():
            return json.loads(sidecar.read_text())
        found = _embedded_provenance(path)
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except ValueError:
            return None
    return found if isinstance(found, dict) else None
