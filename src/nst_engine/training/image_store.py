"""The training images' pixels on disk: one anonymous temporary file, read back a band at a time.

Keeping a time-lapse's reduced frames in memory costs ``count × rows × cols × 3 × 2`` bytes
(2,000 frames at 384×512: 2.4 GB). Here they are appended to one file instead, which has no
name (``O_TMPFILE`` on Linux, unlinked at once elsewhere on POSIX, delete-on-close on
Windows): the operating system frees its space when it is closed, at the end of the run or of
the process, a crash or ``kill -9`` included. A crop reads only its band of rows with
``readinto``, so the pixels pass through the page cache, never the process's own memory,
which holds the index (offset and shape per image) and one band.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ResourceError

__all__ = ["ImageStore", "check_free_space", "size_text", "store_folder", "stored_bytes"]

#: The stored pixels: RGB float16, what the crops were cut from when they lived in memory.
DTYPE = np.dtype(np.float16)
_CHANNELS = 3


def stored_bytes(shapes: Iterable[tuple[int, int]]) -> int:
    """The file's size for images of these (rows, columns): the sum of ``rows × cols × 3 × 2``."""
    return sum(rows * cols for rows, cols in shapes) * _CHANNELS * DTYPE.itemsize


def size_text(nbytes: int) -> str:
    """``nbytes`` for a person: ``"36.0 KiB"``, ``"225.0 MiB"``, ``"2.2 GiB"``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes / 2**10:,.1f} KiB"


def check_free_space(folder: Path, needed: int, *, count: int) -> None:
    """Refuse, before anything is decoded, images whose file would not fit on ``folder``'s disk."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ResourceError(
            f"not enough disk space for the training images: {count} need {size_text(needed)} as float16 in "
            f"{folder}, which has {size_text(free)} free; free some there, put the checkpoint (nst train -o) or "
            "TMPDIR on another disk, or train on fewer images or a smaller size", option="images")


class ImageStore:
    """Float16 ``H×W×3`` images appended to one anonymous temporary file in ``folder``.

    Append every image, then read bands of rows; :meth:`close` frees the disk space. One
    reader at a time: a band is a seek and a read.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._file = tempfile.TemporaryFile(prefix="nst-training-images-", dir=folder)
        self._entries: list[tuple[int, int, int]] = []  # (offset, rows, cols) per image
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """Every image's (rows, columns), in order."""
        return [(rows, cols) for _, rows, cols in self._entries]

    def shape(self, index: int) -> tuple[int, int]:
        """Image ``index``'s (rows, columns)."""
        _, rows, cols = self._entries[index]
        return rows, cols

    @property
    def closed(self) -> bool:
        return self._file.closed

    def append(self, image: np.ndarray) -> None:
        """Write one ``H×W×3`` float16 image at the end of the file."""
        if image.dtype != DTYPE or image.ndim != 3 or image.shape[2] != _CHANNELS:
            raise ValueError(f"the store holds H×W×3 float16 images, not {image.dtype} {image.shape}")
        rows, cols = image.shape[:2]
        self._file.write(np.ascontiguousarray(image).data)
        self._entries.append((self.nbytes, rows, cols))
        self.nbytes += image.nbytes

    def rows(self, index: int, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of image ``index``, read from the file: a writable float16 array of its own."""
        offset, rows, cols = self._entries[index]
        if not 0 <= start <= stop <= rows:
            raise IndexError(f"rows {start}:{stop} of an image of {rows} rows")
        band = np.empty((stop - start, cols, _CHANNELS), DTYPE)
        self._file.seek(offset + start * cols * _CHANNELS * DTYPE.itemsize)
        read = self._file.readinto(memoryview(band).cast("B"))
        if read != band.nbytes:
            raise OSError(f"the training images' temporary file in {self.folder} ended early ({read} of "
                          f"{band.nbytes} bytes): was it truncated?")
        return band

    def close(self) -> None:
        """Close the file: the operating system frees its space."""
        self._file.close()


def store_folder(folder: str | os.PathLike | None) -> Path:
    """``folder`` (created if missing), or the system's temporary folder (``$TMPDIR``) for ``None``."""
    if folder is None:
        return Path(tempfile.gettempdir())
    path = Path(folder).expanduser().absolute()
    path.mkdir(parents=True, exist_ok=True)
    return path
