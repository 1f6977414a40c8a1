"""Reading the frames of a clip: a video file, a folder of frames, a TIFF stack or an array.

Whatever the source, :class:`Frames` hands out one frame at a time as float32 in [0, 1]
(gray ``H×W``, ``H×W×3`` or ``H×W×4``), so a 2,000-frame video never sits in memory: a video
is decoded by one ffmpeg process (imageio-ffmpeg) front to back, and reopened only when an
earlier frame is asked for; a TIFF stack is read a page at a time. Sizes are checked when the
clip is opened, before any frame is stylized.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

from ..errors import ImageError
from ..image_reading import decode_image
from ..images import to_unit_float
from .frame_png import is_deep_color_png, read_frame_png

__all__ = ["FRAME_SUFFIXES", "VIDEO_SUFFIXES", "Frames", "ffmpeg_reason", "open_frames"]

#: Video containers read through ffmpeg.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
#: Files a folder of frames is made of (others, and hidden files, are skipped).
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_STACK_SUFFIXES = (".tif", ".tiff")
_NO_BACKEND = "no ffmpeg backend (pip install imageio-ffmpeg)"


def _natural(name: str) -> list:
    """Sort key putting frame_2 before frame_10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", name)]


def ffmpeg_reason(error: BaseException) -> str:
    """ffmpeg's own one-line reason from the stderr an imageio-ffmpeg error carries."""
    lines = [re.sub(r"^\[[^\]]*\]\s*", "", line.strip()) for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith("===")]
    wanted = re.compile(r"error|invalid|not found|unsupported|no such|unknown|could not", re.IGNORECASE)
    found = [line for line in lines if wanted.search(line)]
    return (found or lines or [type(error).__name__])[-1]


def _ffmpeg(path: Path) -> Any:
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        raise ImageError(f"cannot decode {path}: {_NO_BACKEND}") from None
    return imageio_ffmpeg


class _Video:
    """A video file, decoded front to back by one ffmpeg process; reopened to go back."""

    def __init__(self, path: Path) -> None:
        self.path, self._ffmpeg = path, _ffmpeg(path)
        self._frames: Iterator[bytes] | None = None
        self._next = 0
        self.meta = self._open()
        self.size = tuple(self.meta["size"])  # (width, height), after ffmpeg's rotation
        try:
            self.count = self._ffmpeg.count_frames_and_secs(str(path))[0]
        except (OSError, RuntimeError) as exc:
            raise ImageError(f"cannot decode {path}: {ffmpeg_reason(exc)}") from None
        if self.count < 1:
            raise ImageError(f"cannot decode {path}: it holds no video frames")
        self.fps = float(self.meta["fps"]) if self.meta.get("fps") else None

    def _open(self) -> dict:
        self.close()
        self._frames = self._ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
        self._next = 0
        try:
            return next(self._frames)
        except (OSError, RuntimeError, StopIteration) as exc:
            self.close()
            raise ImageError(f"cannot decode {self.path}: {ffmpeg_reason(exc)}; "
                             "check that it plays, or convert it (ffmpeg -i IN -c:v libx264 OUT.mp4)") from None

    def read(self, index: int) -> np.ndarray:
        if self._frames is None or index < self._next:
            self._open()
        width, height = self.size
        try:
            while True:
                data = next(self._frames)
                self._next += 1
                if self._next > index:
                    return np.frombuffer(data, np.uint8).reshape(height, width, 3)
        except StopIteration:
            self.close()
            raise ImageError(f"{self.path} ended after {self._next} of its {self.count} frames") from None
        except (OSError, RuntimeError) as exc:
            self.close()
            raise ImageError(f"cannot decode frame {index} of {self.path}: {ffmpeg_reason(exc)}") from None

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()  # stops the ffmpeg process
            self._frames = None


def _frame_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file's header."""
    try:
        if path.suffix.lower() in _STACK_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                return int(page.imagelength), int(page.imagewidth)
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"cannot read frame {path}: {reason}") from None


class _Folder:
    """A folder of frame files, in natural order, all of one size."""

    def __init__(self, path: Path) -> None:
        files = sorted((entry for entry in path.iterdir() if entry.suffix.lower() in FRAME_SUFFIXES
                        and not entry.name.startswith(".") and entry.is_file()), key=lambda p: _natural(p.name))
        if not files:
            raise ImageError(f"no frames in {path}: expected PNG, JPEG or TIFF files such as frame_0001.png")
        first = _frame_size(files[0])
        for file in files[1:]:
            if (size := _frame_size(file)) != first:
                raise ImageError(f"frames of different sizes in {path}: {file.name} is {size[0]}×{size[1]}, "
                                 f"{files[0].name} is {first[0]}×{first[1]}; resize them to one size")
        self.files, self.count, self.shape = files, len(files), first
        stems = [file.stem for file in files]
        self.names = tuple(stems if len(set(stems)) == len(stems) else [file.name for file in files])
        try:
            self.fps = _described_fps((path / "provenance.json").read_text())
        except OSError:
            self.fps = None

    def read(self, index: int) -> np.ndarray:
        file = self.files[index]
        return read_frame_png(file) if is_deep_color_png(file) else decode_image(file)

    def close(self) -> None:
        pass


def _described_fps(text: str) -> float | None:
    """The frame rate a video run recorded in a TIFF stack's description or a frame folder's provenance, if any."""
    try:
        fps = json.loads(text).get("fps") if text.startswith("{") else None
    except (ValueError, AttributeError):
        return None
    return float(fps) if isinstance(fps, (int, float)) and fps > 0 else None


def _stack_layout(shape: tuple[int, ...], color: bool, what: str) -> tuple[int, int, int]:
    """(frames, height, width) of a (T, H, W[, C]) stack; a single image is a stack of one."""
    planes = shape[:-1] if color else shape
    if color and shape[-1] not in (1, 2, 3, 4):
        raise ImageError(f"{what} has {shape[-1]} channels; frames must be gray, RGB or RGBA")
    if len(planes) == 2:
        return 1, planes[0], planes[1]
    if len(planes) != 3:
        raise ImageError(f"{what} has shape {shape}; a stack of frames must be (T, H, W) or (T, H, W, C)")
    return planes


class _Stack:
    """A (T, H, W[, C]) array, or a TIFF holding one, read a page at a time."""

    def __init__(self, source: np.ndarray | Path) -> None:
        self._tif = None
        if isinstance(source, Path):
            try:
                self._tif = tifffile.TiffFile(source)
            except Exception as exc:
                raise ImageError(f"cannot read {source}: not a TIFF stack ({exc})") from None
            if len(self._tif.series) > 1:
                sizes = [series.shape for series in self._tif.series[:2]]
                self.close()
                raise ImageError(f"frames of different sizes in {source}: page 1 is {sizes[1]}, "
                                 f"page 0 is {sizes[0]}; save the frames at one size")
            series = self._tif.series[0]
            shape, color, what, dtype = tuple(series.shape), series.axes.endswith("S"), str(source), series.dtype
        else:
            shape, color, what, dtype = source.shape, source.ndim == 4, f"the array of shape {source.shape}", source.dtype
        try:
            self.count, *size = _stack_layout(shape, color, what)
        except ImageError:
            self.close()
            raise
        self.shape = tuple(size)
        self._array = source if isinstance(source, np.ndarray) else None
        self._single = len(shape) == (3 if color else 2)
        self._paged = self._tif is not None and len(self._tif.series[0].pages) == self.count
        # Signed integers are read as 8- or 16-bit by their values: the whole stack's, so
        # that every frame is scaled alike.
        self._cast = None
        if np.issubdtype(dtype, np.signedinteger):
            everything = self._all()
            lo, hi = int(everything.min()), int(everything.max())
            self._cast = np.uint8 if lo >= 0 and hi <= 255 else np.uint16 if lo >= 0 and hi <= 65535 else None
            if self._cast is None:
                to_unit_float(everything, what)  # raises, saying how to rescale
        self.fps = _described_fps(self._tif.pages[0].description) if self._tif is not None else None

    def _all(self) -> np.ndarray:
        if self._array is None:
            self._array = self._tif.series[0].asarray()
        return self._array

    def read(self, index: int) -> np.ndarray:
        if self._array is None and self._paged:
            frame = self._tif.asarray(key=index, series=0)
        else:
            frame = self._all() if self._single else self._all()[index]
        return frame.astype(self._cast) if self._cast is not None else frame

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None


class Frames:
    """The frames of a clip, read one at a time as float32 in [0, 1]; open them with :func:`open_frames`.

    ``len(frames)``, ``frames[i]`` and iteration give the frames; ``fps`` is the frame rate
    (a video's, or the one a frame folder written by a video run recorded; else ``None``),
    ``shape`` the frames' (height, width), ``source`` what they came from (for provenance) and
    ``names`` the frame files' names without extension (a folder's; else ``None``).
    Close it (or use it as a context manager) to stop a video's decoder.
    """

    def __init__(self, reader: Any, *, source: str, kind: str, shape: tuple[int, int], names: tuple[str, ...] | None = None
                 ) -> None:
        self._reader, self.source, self.kind, self.shape, self.names = reader, source, kind, shape, names
        self.fps: float | None = reader.fps
        self._cached: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return self._reader.count

    def __getitem__(self, index: int) -> np.ndarray:
        count = len(self)
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"frames are indexed by an integer, not {type(index).__name__}")
        if not -count <= index < count:
            raise IndexError(f"frame {index} of a clip of {count} frames")
        index = int(index) % count
        if self._cached is None or self._cached[0] != index:
            self._cached = index, to_unit_float(self._reader.read(index), f"frame {index} of {self.source}")
        return self._cached[1].copy()

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[index] for index in range(len(self)))

    def close(self) -> None:
        """Stop a video's decoder and close a TIFF; the frames can be read again after (a video is reopened)."""
        self._reader.close()

    def __enter__(self) -> Frames:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        fps = f", {self.fps:g} fps" if self.fps else ""
        return f"Frames({self.source!r}: {len(self)} frames of {self.shape[0]}×{self.shape[1]}{fps})"


def open_frames(source: str | os.PathLike | np.ndarray) -> Frames:
    """Open a clip: a video file, a folder of frames, a (multi-page) TIFF stack or a (T, H, W[, C]) array.

    Videos (MP4, MOV, AVI, MKV, WebM, GIF) are decoded by ffmpeg (imageio-ffmpeg); a folder's
    PNG, JPEG and TIFF files are its frames in natural order (frame_2 before frame_10; hidden
    files skipped), 16-bit PNGs kept exact. All frames must have one size, checked here from
    the headers. Errors are :class:`~nst_engine.errors.ImageError` in one line naming the file.
    """
    if isinstance(source, np.ndarray):
        if source.ndim not in (3, 4):
            raise ImageError(f"a clip array must be (T, H, W) or (T, H, W, C); got shape {source.shape}")
        reader = _Stack(source)
        return Frames(reader, source=f"array {tuple(source.shape)} {source.dtype}", kind="array", shape=reader.shape)
    path = Path(source)
    if path.is_dir():
        reader = _Folder(path)
        return Frames(reader, source=str(path), kind="frames", shape=reader.shape, names=reader.names)
    if not path.exists():
        raise ImageError(f"no video, frame folder or TIFF stack at {path}")
    suffix = path.suffix.lower()
    if suffix in _STACK_SUFFIXES:
        reader = _Stack(path)
        return Frames(reader, source=str(path), kind="tiff", shape=reader.shape)
    if suffix in VIDEO_SUFFIXES:
        reader = _Video(path)
        width, height = reader.size
        return Frames(reader, source=str(path), kind="video", shape=(height, width))
    known = ", ".join(VIDEO_SUFFIXES + _STACK_SUFFIXES)
    raise ImageError(f"cannot read {path} as a clip: {path.suffix or 'no extension'} is not one of {known}, "
                     "nor a folder of frames")
