"""Decoding image files: PNG, JPEG and TIFF, sized from the header first, colours made sRGB.

The size is read before any pixel is decoded, so a small file that would decode to gigabytes
is refused in a line (:func:`max_image_pixels`). CMYK, YCCK and ICC-tagged images are
converted to sRGB, so every array that leaves here means the same colours.
"""

from __future__ import annotations

import io
import logging
import math
import os
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageCms, JpegImagePlugin, PngImagePlugin

from .errors import ImageError

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "ImageTooLarge", "decode_image", "image_too_large", "max_image_pixels"]

logger = logging.getLogger(__name__)

#: 2^28 pixels (16384²): a float32 RGB copy of that is 3 GiB, more than a run can afford.
DEFAULT_MAX_IMAGE_PIXELS = 2**28

_EXPECTED = "expected a PNG, JPEG or TIFF image"
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def max_image_pixels(limit: int | None = None) -> int:
    """The decoding limit: ``limit`` if given, else ``$NST_MAX_IMAGE_PIXELS``, else 2^28."""
    if limit is not None:
        return int(limit)
    text = os.environ.get("NST_MAX_IMAGE_PIXELS", "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        value = 0
    if value < 1:
        raise ImageError(f"NST_MAX_IMAGE_PIXELS={text!r} is not a positive number of pixels")
    return value


def _kind(path: Path) -> str:
    """The format from the file's first bytes (not its name): a renamed file still reads."""
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8"):
        return "JPEG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    found = "it is empty" if not head else f"it starts with {head[:4]!r}"
    raise ImageError(f"cannot read {path}: {_EXPECTED} ({found})")


class ImageTooLarge(ImageError):
    """A file above the pixel limit; ``lazy`` when the lazy route could read it at a smaller size."""

    def __init__(self, message: str, *, side: int, lazy: bool) -> None:
        super().__init__(message)
        self.side, self.lazy = side, lazy


def image_too_large(path: Path, pixels: int, shape: tuple[int, ...], limit: int, *, side: int,
                    lazy: bool) -> ImageTooLarge:
    """The refusal of a file of ``pixels`` above ``limit``, naming the ways round it."""
    size = "×".join(str(n) for n in shape)
    message = (f"{path} would decode to {size} = {pixels:,} pixels, above the limit of {limit:,}; "
               "raise it with NST_MAX_IMAGE_PIXELS=N (or max_pixels=N) if the memory is there")
    if lazy:
        message += (f", or read it lazily at a smaller size (nst stylize does at a --size below {side}; "
                    "scripts: nst_engine.large_reading.open_image and read_reduced)")
    return ImageTooLarge(message, side=side, lazy=lazy)


def _guard(path: Path, pixels: int, shape: tuple[int, ...], limit: int, *, side: int, lazy: bool = False) -> None:
    if pixels > limit:
        raise image_too_large(path, pixels, shape, limit, side=side, lazy=lazy)


def _to_srgb(im: Image.Image, path: Path) -> Image.Image:
    """CMYK, YCCK (decoded as CMYK) and ICC-tagged RGB(A) -> sRGB; others as they are."""
    icc = im.info.get("icc_profile")
    if im.mode == "CMYK" or (icc and im.mode in ("RGB", "RGBA")):
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        try:
            if icc:
                source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                if im.mode != "CMYK" and "srgb" in ImageCms.getProfileDescription(source).lower():
                    return im
                return ImageCms.profileToProfile(im, source, _SRGB, outputMode=out_mode)
            return im.convert("RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            raise ImageError(
                f"cannot convert the colours of {path} ({im.mode}) to sRGB: {exc}; "
                "save it as sRGB (or untagged RGB) first"
            ) from None
    if icc:
        logger.info("%s: colour profile of a %s image ignored", path, im.mode)
    if im.mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    return im


def _read_pillow(path: Path, kind: str, limit: int, labels: bool) -> np.ndarray:
    # The plugin class reads the header only and skips Pillow's process-wide
    # decompression-bomb limit, so the engine's own limit is the one that applies.
    opener = PngImagePlugin.PngImageFile if kind == "PNG" else JpegImagePlugin.JpegImageFile
    with opener(path) as im:
        width, height = im.size
        _guard(path, width * height, (height, width), limit, side=max(width, height))
        im.load()
        return np.asarray(im if labels else _to_srgb(im, path))


def _read_tiff(path: Path, limit: int, labels: bool) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape = tuple(series.shape)
        pixels = math.prod(n for n, axis in zip(shape, series.axes) if axis != "S")
        side = max((n for n, axis in zip(shape, series.axes) if axis in "YX"), default=0)
        _guard(path, pixels, shape, limit, side=side, lazy=True)
        page = tif.pages[0]
        image = series.asarray()
        separated = page.photometric == tifffile.PHOTOMETRIC.SEPARATED
        if page.photometric in (tifffile.PHOTOMETRIC.CIELAB, tifffile.PHOTOMETRIC.ICCLAB):
            raise ImageError(f"cannot read {path}: a Lab TIFF; save it as RGB")
        icc = page.tags.get(34675)
    if labels or not (separated or (icc and image.dtype == np.uint8 and image.shape[-1:] in ((3,), (4,)))):
        if icc is not None:
            logger.info("%s: colour profile of a %s TIFF ignored", path, image.dtype)
        return image
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ImageError(f"cannot read {path}: a CMYK TIFF must be one 8-bit image; save it as RGB")
    mode = "CMYK" if separated else "RGB" if image.shape[-1] == 3 else "RGBA"
    im = Image.fromarray(np.ascontiguousarray(image[..., :4] if separated else image), mode)
    if icc is not None:
        im.info["icc_profile"] = bytes(icc.value)
    return np.asarray(_to_srgb(im, path))


def decode_image(path: str | os.PathLike, *, max_pixels: int | None = None, labels: bool = False) -> np.ndarray:
    """Decode a PNG, JPEG or TIFF file, refusing one larger than :func:`max_image_pixels`.

    Integer data keep their dtype (16-bit PNG and TIFF stay exact); colours come out sRGB.
    ``labels=True`` keeps the stored values, a palette image's indices included: labels are
    numbers, not colours to convert.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"no image file at {path}")
    limit = max_image_pixels(max_pixels)
    try:
        kind = _kind(path)
        if kind == "TIFF":
            return _read_tiff(path, limit, labels)
        return _read_pillow(path, kind, limit, labels)
    except ImageError:
        raise
    except OSError as exc:
        if exc.strerror:  # the file system's refusal, not the decoder's
            raise ImageError(f"cannot read {path}: {exc.strerror}") from None
        raise ImageError(f"cannot read {path}: a damaged or unsupported {kind} file ({exc})") from None
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"cannot read {path}: a damaged or unsupported {kind} file ({reason})") from None
