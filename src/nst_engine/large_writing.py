"""Encoding large images: tiled BigTIFF and OME-Zarr with a pyramid, a strip or chunk at a time.

Both take a numpy array or a lazy dask array (``H×W`` or ``H×W×C``, already in its stored
dtype) and never hold more of a lazy one than a strip of tiles (BigTIFF) or what dask keeps in
flight (OME-Zarr), so an image read with :func:`nst_engine.large_reading.open_image` is
written whole without being loaded. They write to the path given; atomicity and the
provenance sidecar are :func:`nst_engine.files.write_image`'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import tifffile

from .errors import ImageError
from .large_reading import NEEDS_ZARR

__all__ = ["pyramid_factors", "write_bigtiff", "write_ome_zarr"]

TILE = (256, 256)
#: Pyramids stop once the longer side is this small: a viewer's overview needs no less.
SMALLEST_LEVEL = 512
#: A pyramid level smaller than this is computed into memory once, the next levels from it.
_IN_MEMORY_BYTES = 8 * 2**20


def pyramid_factors(shape: tuple[int, ...]) -> list[int]:
    """Downsampling factors 2, 4, 8, ... until the longer side is at most :data:`SMALLEST_LEVEL`."""
    factors, longer = [], max(shape[:2])
    while longer // 2 ** len(factors) > SMALLEST_LEVEL:
        factors.append(2 ** (len(factors) + 1))
    return factors


def _halve(level: Any) -> Any:
    """The next pyramid level: means of 2×2 blocks (an odd last row or column dropped), same dtype."""
    import dask.array as da

    lazy = level if isinstance(level, da.Array) else da.from_array(level, chunks=(2048, 2048) + level.shape[2:])
    half = da.coarsen(np.mean, lazy, {0: 2, 1: 2}, trim_excess=True, dtype=np.float32)
    if np.issubdtype(level.dtype, np.integer):
        half = da.round(half)
    half = half.astype(level.dtype)
    return half.compute() if half.nbytes <= _IN_MEMORY_BYTES else half


def _tiles(image: Any, tile: tuple[int, int]) -> Iterator[np.ndarray]:
    """``image``'s tiles in TIFF order (row by row), computing one row of dask chunks at a time.

    The chunks of a row are kept apart, not joined into a strip: that copy would double the memory.
    """
    import dask
    import dask.array as da

    if not isinstance(image, da.Array):
        for y in range(0, image.shape[0], tile[0]):
            for x in range(0, image.shape[1], tile[1]):
                yield image[y:y + tile[0], x:x + tile[1]]
        return
    image = image.rechunk({axis: tile[axis] * max(1, image.chunks[axis][0] // tile[axis]) for axis in (0, 1)})
    for i in range(image.numblocks[0]):
        blocks = dask.compute(*(image.blocks[i, j] for j in range(image.numblocks[1])))
        for y in range(0, blocks[0].shape[0], tile[0]):
            for block in blocks:
                for x in range(0, block.shape[1], tile[1]):
                    yield block[y:y + tile[0], x:x + tile[1]]
        del blocks, block  # before the next row is computed: two rows at once would double the memory


def write_bigtiff(
    path: str | os.PathLike, image: Any, *, description: str | None = None, rgb: bool | None = None,
    tile: tuple[int, int] = TILE, compression: str | None = "zlib",
) -> None:
    """Write a tiled BigTIFF with a sub-IFD pyramid (halved down to :data:`SMALLEST_LEVEL`).

    ``description`` (the provenance JSON) goes into the first page's ImageDescription.
    ``rgb`` says whether a last axis of 3 or 4 is color (default: it is).
    """
    color = image.ndim == 3 and (rgb if rgb is not None else image.shape[-1] in (3, 4))
    photometric = "rgb" if color else "minisblack"
    levels = [image]
    for _ in pyramid_factors(image.shape):
        levels.append(_halve(levels[-1]))
    options = {"tile": tile, "photometric": photometric, "compression": compression}
    with tifffile.TiffWriter(path, bigtiff=True) as tiff:
        for index, level in enumerate(levels):
            tiff.write(
                _tiles(level, tile), shape=level.shape, dtype=level.dtype,
                description=description if index == 0 else None,
                subifds=len(levels) - 1 if index == 0 else None, subfiletype=1 if index else 0, **options,
            )


def write_ome_zarr(
    path: str | os.PathLike, image: Any, *, attributes: dict[str, Any] | None = None, chunk: int = 1024,
) -> None:
    """Write an OME-Zarr image (channels first, as OME-NGFF orders them) with a local-mean pyramid.

    ``attributes`` are added to the root group's attributes (the provenance goes under ``nst``).
    """
    import dask.array as da

    try:
        import zarr
        from ome_zarr.scale import Methods
        from ome_zarr.writer import write_image
    except ImportError:
        raise ImageError(f"writing an OME-Zarr {NEEDS_ZARR}") from None

    lazy = image if isinstance(image, da.Array) else da.from_array(image)
    if lazy.ndim == 3:
        lazy, axes = lazy.transpose(2, 0, 1), "cyx"
        chunks: tuple[int, ...] = (lazy.shape[0], chunk, chunk)
    else:
        axes, chunks = "yx", (chunk, chunk)
    lazy = lazy.rechunk(chunks)
    group = zarr.open_group(str(path), mode="w")
    write_image(lazy, group, axes=axes, scale_factors=pyramid_factors(image.shape), method=Methods.LOCAL_MEAN,
                storage_options={"chunks": chunks})
    if attributes:
        group.attrs.update(attributes)
