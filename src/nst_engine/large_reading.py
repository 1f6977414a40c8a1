"""Reading large images lazily: BigTIFF, tiled TIFF and OME-Zarr, sliced before any pixel is read.

:func:`open_image` maps a file's resolution pyramid to dask arrays in rows × columns (×
channels) order; nothing is decoded until a region is computed. :func:`read_reduced` reads a
smaller copy from the smallest pyramid level still at least that large, averaging areas of
it one chunk at a time, so a 40k² slide read at 2048 px costs the memory of the result and
of one chunk, not of the slide. Colours are read as stored: the lazy route converts none, so
it refuses CMYK, Lab and palette TIFFs (read those with :func:`nst_engine.files.read_image`).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from .errors import ImageError

__all__ = ["NEEDS_ZARR", "LazyImage", "image_shape", "is_zarr", "open_image", "read_reduced"]

#: Rows and columns of one dask chunk: few enough tasks for a 40k² slide, small enough to decode at once.
CHUNK = 1024
_ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")
#: What to do when zarr or ome-zarr is missing (they need Python 3.11, see pyproject.toml).
NEEDS_ZARR = "needs zarr 3 and ome-zarr (Python 3.11 or later): pip install 'zarr>=3' ome-zarr"
_TIFF_PHOTOMETRIC = (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.MINISBLACK)


@dataclass(frozen=True)
class LazyImage:
    """A file's pyramid as dask arrays (``H×W`` or ``H×W×C``), full resolution first.

    Slicing a level reads only the tiles or chunks under the slice (``.compute()`` them).
    Close it (or use it in a ``with`` block) to release a TIFF's file handle.
    """

    path: Path
    levels: tuple[Any, ...]
    _store: Any = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.levels[0].shape)

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].dtype

    def read_region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1`` and columns ``x0:x1`` at full resolution, read from the tiles they cover."""
        return np.asarray(self.levels[0][y0:y1, x0:x1].compute())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def __enter__(self):  # typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_zarr(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Zarr folder (version 2 or 3), an OME-Zarr among them."""
    path = Path(path)
    return path.is_dir() and any((path / marker).is_file() for marker in _ZARR_MARKERS)


def _to_yxc(array: Any, axes: str, path: Path) -> Any:
    """Reorder a dask array with ``axes`` (letters, ``C`` or ``S`` for channels) to Y, X(, C)."""
    axes = axes.upper().replace("S", "C")
    index: list[Any] = []
    for axis, n in zip(axes, array.shape):
        if axis in "YXC":
            index.append(slice(None))
        elif n == 1:
            index.append(0)
        else:
            raise ImageError(f"cannot read {path} as one image: its {axis} axis has {n} planes; save one plane")
    array = array[tuple(index)]
    kept = [a for a in axes if a in "YXC"]
    if "Y" not in kept or "X" not in kept:
        raise ImageError(f"cannot read {path} as an image: its axes are {axes}, with no Y and X")
    order = [kept.index(a) for a in "YXC" if a in kept]
    array = array.transpose(order)
    if array.ndim == 3 and array.shape[-1] > 4:
        raise ImageError(f"cannot read {path} as an image: {array.shape[-1]} channels (at most 4: RGBA)")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def _rechunk(array: Any) -> Any:
    """Merge storage tiles into dask chunks of about :data:`CHUNK` rows and columns."""
    def size(stored: int) -> int:
        return max(stored, CHUNK // stored * stored)

    return array.rechunk({0: size(array.chunks[0][0]), 1: size(array.chunks[1][0])})


def _open_tiff(path: Path) -> LazyImage:
    import dask.array as da
    import zarr

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        page = series.pages[0] if series.pages else tif.pages[0]
        if page.photometric not in _TIFF_PHOTOMETRIC:
            raise ImageError(
                f"cannot read {path} lazily: a {page.photometric.name} TIFF; the lazy route reads RGB or gray "
                "(read it whole with read_image, or save it as RGB)"
            )
    store = tifffile.imread(path, aszarr=True)
    try:
        root = zarr.open(store, mode="r")
        arrays = [root[str(i)] for i in range(len(root))] if isinstance(root, zarr.Group) else [root]
        levels = tuple(_rechunk(_to_yxc(da.from_zarr(a), axes, path)) for a in arrays)
    except BaseException:
        store.close()
        raise
    return LazyImage(path, levels, store)


def _open_zarr(path: Path) -> LazyImage:
    import dask.array as da
    import zarr
    from ome_zarr.format import CurrentFormat, FormatV04
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    # Zarr 2 holds OME-NGFF 0.4 (or older): said up front, ome-zarr does not log a version mismatch.
    location = parse_url(path, mode="r", fmt=FormatV04() if (path / ".zattrs").is_file() else CurrentFormat())
    node = next(iter(Reader(location)()), None) if location is not None else None
    if node is not None and node.data:
        stated = node.metadata.get("axes") or "tczyx"[5 - node.data[0].ndim:]  # before 0.3 always t, c, z, y, x
        axes = "".join(axis["name"] if isinstance(axis, dict) else axis for axis in stated)
        return LazyImage(path, tuple(_rechunk(_to_yxc(level, axes, path)) for level in node.data))
    root = zarr.open(path, mode="r")
    if not isinstance(root, zarr.Array):
        raise ImageError(f"cannot read {path}: a Zarr group with no OME-Zarr image in it")
    axes = "YX" if root.ndim == 2 else "YXC"
    if root.ndim not in (2, 3):
        raise ImageError(f"cannot read {path}: a {root.ndim}-D Zarr array with no OME axes")
    return LazyImage(path, (_rechunk(_to_yxc(da.from_zarr(root), axes, path)),))


def open_image(path: str | os.PathLike) -> LazyImage:
    """Open a TIFF (BigTIFF, tiled, with or without sub-IFD pyramid) or a Zarr folder lazily.

    An OME-Zarr gives its first multiscale image, its pyramid levels included; a TIFF its
    first series and that series' levels. Axes other than Y, X and channels must have one plane.
    """
    path = Path(path)
    try:
        if is_zarr(path):
            return _open_zarr(path)
        if not path.is_file():
            raise ImageError(f"no image file or Zarr folder at {path}")
        return _open_tiff(path)
    except ImageError:
        raise
    except ImportError:
        raise ImageError(f"reading {path} lazily {NEEDS_ZARR}") from None
    except (tifffile.TiffFileError, OSError, ValueError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"cannot read {path} lazily: expected a TIFF or a Zarr folder ({reason})") from None


def image_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The full-resolution shape of a TIFF or Zarr image, from its metadata alone."""
    with open_image(path) as image:
        return image.shape


def _area_sums(plane: np.ndarray, start: int, n_in: int, n_out: int, axis: int) -> tuple[int, np.ndarray]:
    """The first output index and the means, along ``axis``, of each output pixel's area inside ``plane``.

    ``plane`` holds inputs ``start:start + len`` of ``n_in``; output ``o`` covers inputs
    ``[o·s, (o+1)·s)`` with ``s = n_in / n_out``, fractional ends weighted by their overlap. The
    sum over ``[a, b)`` is ``S(b) - S(a)`` with ``S`` the prefix sum, linear within a pixel.
    """
    length, step = plane.shape[axis], n_in / n_out
    first, last = int(start // step), min(n_out, math.ceil((start + length) / step))
    ends = np.clip(np.arange(first, last + 1) * step - start, 0, length)
    whole = np.minimum(np.floor(ends).astype(np.intp), length - 1)
    part = (ends - whole).reshape([-1 if a == axis else 1 for a in range(plane.ndim)])
    prefix = np.concatenate([np.zeros_like(plane.take([0], axis)), np.cumsum(plane, axis)], axis)
    sums = prefix.take(whole, axis) + part * plane.take(whole, axis)
    return first, np.diff(sums, axis=axis) / step


def _workers() -> int:
    """How many chunks to decode at once: dask's ``num_workers`` when set, else the CPU count."""
    import dask

    return max(1, int(dask.config.get("num_workers", None) or os.cpu_count() or 1))


def read_reduced(image: LazyImage, shape: tuple[int, int]) -> np.ndarray:
    """``image`` at ``shape`` (rows, columns, no larger than it), each pixel the mean of its area.

    Reads the smallest pyramid level at least ``shape`` in both sides, a few chunks at a time
    (one per dask worker, decoded in parallel), and sums each chunk into the output pixels it
    overlaps (area averaging, as OpenCV's ``INTER_AREA``), so memory holds the result and those
    chunks. Integer dtypes are kept.
    """
    import dask

    rows, cols = (int(n) for n in shape)
    if rows > image.shape[0] or cols > image.shape[1] or min(rows, cols) < 1:
        raise ImageError(f"cannot reduce {image.path} ({image.shape[0]}×{image.shape[1]}) to {rows}×{cols}")
    level = min((lv for lv in image.levels if lv.shape[0] >= rows and lv.shape[1] >= cols), key=lambda lv: lv.size)
    height, width = level.shape[:2]
    if (height, width) == (rows, cols):
        return np.asarray(level.compute())
    out = np.zeros((rows, cols, *level.shape[2:]), np.float32)  # float32: a 2048² RGB result is 48 MiB
    planes = out[..., None] if out.ndim == 2 else out
    y_edges, x_edges = np.cumsum((0, *level.chunks[0])), np.cumsum((0, *level.chunks[1]))
    indices = list(itertools.product(range(level.numblocks[0]), range(level.numblocks[1])))
    batch = _workers()
    for start in range(0, len(indices), batch):
        some = indices[start:start + batch]
        for (i, j), block in zip(some, dask.compute(*(level.blocks[i, j] for i, j in some))):
            block = block[..., None] if block.ndim == 2 else block
            for c in range(block.shape[-1]):  # a plane at a time: float copies of one plane, not of the block
                oy, down = _area_sums(block[..., c].astype(np.float64), y_edges[i], height, rows, axis=0)
                ox, across = _area_sums(down, x_edges[j], width, cols, axis=1)
                planes[oy:oy + across.shape[0], ox:ox + across.shape[1], c] += across
    if np.issubdtype(level.dtype, np.integer):
        top = np.iinfo(level.dtype)
        np.clip(np.rint(out, out=out), top.min, top.max, out=out)
        return out.astype(level.dtype)
    return out
