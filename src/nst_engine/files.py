"""Reading and writing image files; outputs appear whole or not at all, with their provenance.

PNG carries the provenance JSON in an ``nst`` text chunk, TIFF in its image description, and
every output gets a ``<name>.json`` sidecar. Each file is written to a temporary name in the
same folder and renamed into place, so a crash or a cancel never leaves a partial file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import imageio.v3 as iio
import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

from .errors import ImageError
from .images import to_uint

__all__ = ["read_image", "write_image", "read_provenance", "sidecar_path", "atomic_write"]

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG, JPEG or TIFF as it is stored (dtype and channels untouched)."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"no image file at {path}")
    try:
        return np.asarray(iio.imread(path))
    except Exception as exc:
        raise ImageError(f"cannot read {path} as an image: {exc}") from None


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the provenance JSON of ``path`` goes: ``out.png`` -> ``out.png.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)`` and rename the result onto ``path``; clean up on failure."""
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as exc:
        raise ImageError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_image(
    path: str | os.PathLike, image: np.ndarray, *, provenance: dict | None = None, rgb: bool | None = None
) -> Path:
    """Write a float image in [0, 1] (``H×W``, ``H×W×3`` or ``H×W×4``) atomically.

    PNG and JPEG are written with 8 bits per channel, TIFF with 16. A TIFF may also hold a
    stack (leading axes, one page per plane) when ``rgb`` says whether the last axis is
    color: left to guess, tifffile takes a gray stack of 3 or 4 planes for one RGB(A) image.
    Returns the path written.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"cannot write {path.name}: use a .png, .jpg or .tif file name")
    if fmt == "JPEG" and image.ndim == 3 and image.shape[-1] == 4:
        raise ImageError(f"JPEG has no alpha channel; write {path.stem}.png to keep the transparency")
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

    atomic_write(path, write)
    if provenance is not None:
        sidecar = sidecar_path(path)
        atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(provenance, indent=2, default=str)))
    return path


def read_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance of an output: its sidecar JSON, else the PNG text chunk, else ``None``."""
    path = Path(path)
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        return json.loads(sidecar.read_text())
    if path.suffix.lower() == ".png" and path.is_file():
        with Image.open(path) as im:
            text = im.text.get("nst") if hasattr(im, "text") else None
        return json.loads(text) if text else None
    return None
