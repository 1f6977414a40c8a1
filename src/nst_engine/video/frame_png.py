"""Lossless 16-bit PNG frames that carry a key: the unit a video run writes, and resumes from.

Pillow writes and reads colour PNGs with 8 bits per channel only, so the pixels go through
OpenCV; the key rides in an ``iTXt`` chunk ahead of the pixels, so checking it reads a few
hundred bytes, not the frame. Each frame is written to a temporary name and renamed into
place: a frame on disk is whole, whatever interrupted the run that wrote it.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageError
from ..files import atomic_write
from ..images import to_uint

__all__ = ["frame_key", "is_deep_color_png", "read_frame_png", "stored_frame", "write_frame_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_KEYWORD = b"nst-key"
_HEADER_END = len(_SIGNATURE) + 25  # IHDR is always the first chunk, 13 bytes of data


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def stored_frame(image: np.ndarray) -> np.ndarray:
    """``image`` (float in [0, 1]) as the 16-bit frame a PNG holds: gray, RGB or RGBA (gray+alpha becomes RGBA)."""
    values = to_uint(image, np.uint16)
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    elif values.ndim == 3 and values.shape[-1] == 2:
        values = np.concatenate([values[..., :1]] * 3 + [values[..., 1:]], axis=-1)
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[-1] not in (3, 4)):
        raise ImageError(f"a frame must be H×W, H×W×3 or H×W×4; got shape {values.shape}")
    return values


def write_frame_png(path: str | os.PathLike, image: np.ndarray, key: str) -> np.ndarray:
    """Write ``image`` as a 16-bit PNG holding ``key``, atomically; return it as stored, float32 in [0, 1]."""
    values = stored_frame(image)
    order = values if values.ndim == 2 else values[..., [2, 1, 0, 3][: values.shape[-1]]]
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(order), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ImageError(f"cannot encode frame {Path(path).name} of shape {values.shape} as PNG")
    data = buffer.tobytes()
    text = _chunk(b"iTXt", _KEYWORD + b"\0\0\0\0\0" + key.encode("utf-8"))
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(data[:_HEADER_END] + text + data[_HEADER_END:]))
    return values.astype(np.float32) / np.float32(65535)


def frame_key(path: str | os.PathLike) -> str | None:
    """The key a frame PNG holds, read from the chunks before its pixels; ``None`` if none or no such file."""
    try:
        with open(path, "rb") as stream:
            if stream.read(len(_SIGNATURE)) != _SIGNATURE:
                return None
            while len(head := stream.read(8)) == 8:
                length, kind = struct.unpack(">I", head[:4])[0], head[4:]
                if kind in (b"IDAT", b"IEND"):
                    return None
                data = stream.read(length + 4)[:length]
                if kind == b"iTXt" and data.startswith(_KEYWORD + b"\0"):
                    rest = data.partition(b"\0")[2]
                    # compression flag and method, then the empty language tag and translated keyword
                    return rest[2:].split(b"\0", 2)[-1].decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return None


def is_deep_color_png(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a 16-bit RGB or RGBA PNG, which Pillow would read with 8 bits."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(_HEADER_END)
    except OSError:
        return False
    return head.startswith(_SIGNATURE) and len(head) == _HEADER_END and head[24] == 16 and head[25] in (2, 6)


def read_frame_png(path: str | os.PathLike) -> np.ndarray:
    """The pixels of a PNG as stored (16-bit kept), channels in RGB(A) order."""
    try:
        values = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if values is None:
        raise ImageError(f"cannot read {path}: a damaged PNG frame; delete it and it is computed again")
    if values.ndim == 3:
        values = values[..., [2, 1, 0, 3][: values.shape[-1]]]
    return np.ascontiguousarray(values)
