"""Reading and writing image files; outputs appear whole or not at all, with their provenance.

PNG carries the provenance JSON in an ``nst`` text chunk, TIFF in its image description, and
every output gets a ``<name>.json`` sidecar. Each file is written to a temporary name in the
same folder and renamed into place, so a crash or a cancel never leaves a partial file; the
image and its sidecar are renamed together under a lock on their folder, so two runs writing
the same output leave one run's pair, never one's image with the other's sidecar.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

from .errors import ImageError
from .image_reading import decode_image
from .images import to_uint

try:
    import fcntl
except ImportError:  # Windows: renames stay atomic one by one, the pair is not locked
    fcntl = None

__all__ = ["read_image", "write_image", "check_output", "read_provenance", "sidecar_path", "atomic_write"]

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read a PNG, JPEG or TIFF: integer dtype kept, colours converted to sRGB.

    Files that would decode to more than ``max_pixels`` (default ``$NST_MAX_IMAGE_PIXELS``,
    else 2^28) are refused from their header, before any memory is spent on them.
    """
    return decode_image(path, max_pixels=max_pixels)


def check_output(path: str | os.PathLike, *, alpha: bool = False, sidecar: bool = True) -> Path:
    """Refuse an output path that :func:`write_image` could not write, before any work is done.

    Checks the extension, that the folder exists and takes a new file, that the image is not
    a folder, that ``alpha`` (an RGBA or gray+alpha result) is not going to JPEG, and, with
    ``sidecar``, that ``NAME.json`` is not a folder. Returns the path.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"cannot write {path}: it is a folder; name a file in it, e.g. {path / 'out.png'}")
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        found = f"{path.suffix!r} is not an image type" if path.suffix else "there is no extension"
        raise ImageError(f"cannot write {path.name}: {found}; use a .png, .jpg or .tif file name")
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ImageError(f"cannot write {path}: {folder} {what}; create the folder or choose another path")
    if alpha and fmt == "JPEG":
        raise ImageError(f"JPEG has no alpha channel; write {path.stem}.png to keep the transparency")
    if sidecar and sidecar_path(path).is_dir():
        raise ImageError(f"cannot write {path}: its provenance {sidecar_path(path)} is a folder; remove it or rename the output")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
    except OSError as exc:
        raise ImageError(f"cannot write to {folder}: {exc.strerror or exc}; choose a folder you can write to") from None
    os.close(fd)
    os.unlink(probe)
    return path


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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 would make outputs private
    return Path(name)


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


def _write_pair(path: Path, write: Callable[[Path], None], sidecar_text: str | None) -> None:
    """Write the image and its sidecar (``None``: none, a stale one is removed) as one change."""
    sidecar = sidecar_path(path)
    temporaries = [_temporary(path)]
    try:
        write(temporaries[0])
        if sidecar_text is not None:
            temporaries.append(_temporary(sidecar))
            temporaries[1].write_text(sidecar_text)
        with _folder_lock(path.parent):
            if sidecar_text is None:
                sidecar.unlink(missing_ok=True)
                os.replace(temporaries[0], path)
                return
            try:
                os.replace(temporaries[1], sidecar)
            finally:
                # Once the sidecar is in place the image must follow, even when a signal
                # arrives between the two renames.
                if not temporaries[1].exists():
                    os.replace(temporaries[0], path)
    except BaseException:
        for tmp in temporaries:
            tmp.unlink(missing_ok=True)
        raise


def write_image(
    path: str | os.PathLike, image: np.ndarray, *, provenance: dict | None = None, rgb: bool | None = None
) -> Path:
    """Write a float image in [0, 1] (``H×W``, ``H×W×3`` or ``H×W×4``) atomically.

    PNG and JPEG are written with 8 bits per channel, TIFF with 16. A TIFF may also hold a
    stack (leading axes, one page per plane) when ``rgb`` says whether the last axis is
    color: left to guess, tifffile takes a gray stack of 3 or 4 planes for one RGB(A) image.
    The path is checked (:func:`check_output`) before anything is encoded. Returns the path.
    """
    alpha = image.ndim == 3 and image.shape[-1] in (2, 4) and rgb is not False
    path = check_output(path, alpha=alpha, sidecar=provenance is not None)
    fmt = _FORMATS[path.suffix.lower()]
    text = json.dumps(provenance, default=str) if provenance is not None else None

    def write(tmp: Path) -> None:
        if fmt == "TIFF":
            photometric = None if rgb is None else "rgb" if rgb else "minisblack"
            tifffile.imwrite(tmp, to_uint(image, np.uint16), description=text, photometric=photometric)
            return
        pil = Image.fromarray(to_uint(image, np.uint8))
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            if text is not None:
                info.add_itxt("nst", text)
            pil.save(tmp, format="PNG", pnginfo=info)
        else:
            pil.save(tmp, format="JPEG", quality=95, comment=(text or "").encode())

    sidecar_text = json.dumps(provenance, indent=2, default=str) if provenance is not None else None
    _write_pair(path, write, sidecar_text)
    return path


def read_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance of an output: its sidecar JSON, else the PNG text chunk, else ``None``."""
    path = Path(path)
    sidecar = sidecar_path(path)
    with _folder_lock(path.parent, shared=True) if path.parent.is_dir() else contextlib.nullcontext():
        if sidecar.is_file():
            return json.loads(sidecar.read_text())
        if path.suffix.lower() == ".png" and path.is_file():
            with Image.open(path) as im:
                text = im.text.get("nst") if hasattr(im, "text") else None
            return json.loads(text) if text else None
    return None
