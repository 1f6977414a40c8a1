"""Output formats and the file names that go with them; cheap to import, so the CLI's options use it.

``.tif`` is an ordinary TIFF unless BigTIFF (tiled, with a pyramid) is asked for; ``.zarr``
(``.ome.zarr`` too) is an OME-Zarr folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ImageError

__all__ = ["OUTPUT_FORMATS", "output_format"]

#: Each format's extensions; an extension's default format is the first that lists it.
_EXTENSIONS = {
    "png": (".png",), "jpeg": (".jpg", ".jpeg"), "tiff": (".tif", ".tiff"), "bigtiff": (".tif", ".tiff"),
    "ome-zarr": (".zarr",),
}
OUTPUT_FORMATS = tuple(_EXTENSIONS)


def output_format(path: str | os.PathLike, *, format: str | None = None) -> str:
    """The format ``path`` is written in: ``format`` when given (it must fit the extension), else its extension's."""
    path = Path(path)
    suffix = path.suffix.lower()
    if format is None:
        fmt = next((name for name, suffixes in _EXTENSIONS.items() if suffix in suffixes), None)
        if fmt is None:
            found = f"{path.suffix!r} is not an image type" if path.suffix else "there is no extension"
            raise ImageError(f"cannot write {path.name}: {found}; use a .png, .jpg or .tif file name, or a .zarr folder")
        return fmt
    if format not in _EXTENSIONS:
        raise ImageError(f"unknown output format {format!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    if suffix not in _EXTENSIONS[format]:
        names = " or ".join(_EXTENSIONS[format])
        raise ImageError(f"cannot write {path.name} as {format}: a {format} output is named {names}; "
                         f"call it {path.stem}{_EXTENSIONS[format][0]}, or leave the format to the name")
    return format
