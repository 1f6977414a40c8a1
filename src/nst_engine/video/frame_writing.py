"""Writing a clip: each frame as it finishes, then the output, whole, once the last one is done.

A :class:`FrameStore` writes every finished frame at once, atomically, as a lossless 16-bit
PNG holding the caller's key for it (:mod:`.frame_png`): into the output folder itself when
the output is a frame folder, else into a hidden staging folder beside the output
(``.clip.mp4.frames/``), from which :meth:`FrameStore.finish` encodes the video or the TIFF
stack under a temporary name and renames it, with its ``<name>.json`` sidecar, into place. An
interrupted run leaves whole frames and no output; the next run reuses every frame whose key
it asks for again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ..errors import ImageError
from ..files import _write_pair, atomic_write, check_not_an_input, check_writable, read_provenance, sidecar_path
from .frame_png import frame_key, read_frame_png, write_frame_png
from .frame_reading import _ffmpeg, ffmpeg_reason

__all__ = [
    "DEFAULT_FPS", "OUTPUT_KINDS", "VIDEO_OUTPUT_SUFFIXES", "FrameStore", "check_video_output",
    "read_video_provenance", "video_output_format",
]

logger = logging.getLogger(__name__)

#: Output kinds: a video file, a folder of 16-bit PNG frames, a multi-page 16-bit TIFF.
OUTPUT_KINDS = ("video", "frames", "tiff")
#: Containers written (H.264, yuv420p); WebM and GIF are read only.
VIDEO_OUTPUT_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv")
_TIFF_SUFFIXES = (".tif", ".tiff")
#: Frames per second of a video written from frames that did not say theirs.
DEFAULT_FPS = 24.0
#: x264's constant rate factor: 14 is visually lossless; 0 would be lossless but unplayable in many players.
_CRF = "14"
#: Above this the provenance stays in the sidecar alone: one command-line argument may hold 128 KiB.
_COMMENT_LIMIT = 60_000


def video_output_format(path: str | os.PathLike, *, format: str | None = None) -> str:
    """What ``path`` is written as: ``format`` when given, else ``"frames"`` for a folder or a name without an extension
    (or one ending in ``/``), ``"video"`` for .mp4/.mov/.avi/.mkv, ``"tiff"`` for .tif/.tiff."""
    text, path = os.fspath(path), Path(path)
    suffix = path.suffix.lower()
    if format is not None:
        if format not in OUTPUT_KINDS:
            raise ImageError(f"unknown video output format {format!r}; choose one of {', '.join(OUTPUT_KINDS)}")
        wanted = {"video": VIDEO_OUTPUT_SUFFIXES, "tiff": _TIFF_SUFFIXES}.get(format)
        if wanted is not None and suffix not in wanted:
            raise ImageError(f"cannot write {path.name} as {format}: name it {path.stem}{wanted[0]} "
                             f"(one of {', '.join(wanted)}), or leave the format to the name")
        return format
    if text.endswith(("/", os.sep)) or path.is_dir() or not suffix:
        return "frames"
    if suffix in VIDEO_OUTPUT_SUFFIXES:
        return "video"
    if suffix in _TIFF_SUFFIXES:
        return "tiff"
    raise ImageError(f"cannot write {path.name}: {path.suffix} is not a video output; use "
                     f"{', '.join(VIDEO_OUTPUT_SUFFIXES)}, .tif, or a folder name for frames")


def check_video_output(path: str | os.PathLike, *, format: str | None = None,
                       inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output :class:`FrameStore` could not write, before any frame is computed; return the path.

    Checks the kind (:func:`video_output_format`), that it is none of the ``inputs`` (a frame
    folder written into itself would replace its frames), that the folder exists and takes new
    files, that a frame folder is not a file, and that a video or TIFF, its sidecar and its
    staging folder are not in the way.
    """
    fmt, path = video_output_format(path, format=format), Path(path)
    check_not_an_input(path, inputs)
    if fmt == "frames":
        if path.exists() and not path.is_dir():
            raise ImageError(f"cannot write frames into {path}: it is a file; name a folder")
        check_writable(path if path.is_dir() else path.parent, path)
        return path
    if path.is_dir():
        raise ImageError(f"cannot write {path}: it is a folder; name a file in it, e.g. {path / 'out.mp4'}")
    if sidecar_path(path).is_dir():
        raise ImageError(f"cannot write {path}: its provenance {sidecar_path(path)} is a folder; remove it")
    staging = _staging(path)
    if staging.exists() and not staging.is_dir():
        raise ImageError(f"cannot stage the frames of {path}: {staging} is a file; remove it")
    check_writable(path.parent, path)
    return path


def _staging(path: Path) -> Path:
    return path.parent / f".{path.name}.frames"


class FrameStore:
    """The frames of one output, written one at a time as whole 16-bit PNGs, then assembled by :meth:`finish`.

    Frames go into ``path`` itself for a frame folder (named ``frame_00000.png`` … or after
    ``names``, e.g. the input folder's :attr:`Frames.names`), else into the staging folder
    :attr:`folder` beside it. Each frame carries the key it was put with; :meth:`reusable`
    gives it back only for that exact key, so a key that covers everything a frame depends on
    makes a resumed run reuse exactly the frames it would compute again.
    """

    def __init__(self, path: str | os.PathLike, *, format: str | None = None,
                 names: Sequence[str] | None = None) -> None:
        self.format = video_output_format(path, format=format)
        self.path = check_video_output(path, format=self.format)
        self.folder = self.path if self.format == "frames" else _staging(self.path)
        if names is not None and len(set(names)) != len(names):
            raise ImageError("frame names must differ from one another to name output frames")
        self._names = list(names) if names is not None and self.format == "frames" else None
        self._done: set[int] = set()

    def frame_path(self, index: int) -> Path:
        """Where frame ``index`` is stored."""
        if self._names is not None and index < len(self._names):
            return self.folder / f"{self._names[index]}.png"
        return self.folder / f"frame_{index:05d}.png"

    def reusable(self, index: int, key: str) -> np.ndarray | None:
        """Frame ``index`` as stored (float32 in [0, 1], 16-bit precision) if it was put with ``key``, else ``None``."""
        path = self.frame_path(index)
        if frame_key(path) != key:
            return None
        try:
            values = read_frame_png(path)
        except ImageError:
            return None  # damaged after it was written: computed again
        self._done.add(index)
        return values.astype(np.float32) / np.float32(np.iinfo(values.dtype).max)

    def put(self, index: int, image: np.ndarray, key: str) -> np.ndarray:
        """Store frame ``index`` (float in [0, 1]) with ``key``, atomically; return it as stored (what :meth:`reusable` gives back)."""
        self.folder.mkdir(exist_ok=True)
        stored = write_frame_png(self.frame_path(index), image, key)
        self._done.add(index)
        return stored

    def _frames(self, count: int) -> Iterator[np.ndarray]:
        for index in range(count):
            yield read_frame_png(self.frame_path(index))

    def finish(self, provenance: dict[str, Any], fps: float | None = None) -> Path:
        """Write the output from frames 0 … N-1 (those put or reused by this store) with ``provenance``; return its path.

        The provenance is recorded with ``frame_count`` and ``fps`` (the written frame rate;
        a video without one is written at :data:`DEFAULT_FPS`) set. A frame folder gets a
        ``provenance.json`` and loses frames a longer earlier run left; a video or TIFF is
        renamed into place with its sidecar and the staging folder is removed.
        """
        count = len(self._done)
        if count == 0 or self._done != set(range(count)):
            missing = sorted(set(range(max(self._done, default=-1) + 1)) - self._done)
            raise ImageError(f"cannot write {self.path}: " + (f"frames {missing[:5]} were never stored"
                                                                if missing else "no frames were stored"))
        if self.format == "video":
            fps = float(fps or DEFAULT_FPS)
        record = {**provenance, "frame_count": count, "fps": fps}
        if self.format == "frames":
            self._tidy(count)
            atomic_write(self.folder / "provenance.json", lambda tmp: tmp.write_text(json.dumps(record, indent=2, default=str)))
            return self.path
        first = read_frame_png(self.frame_path(0))
        if self.format == "video":
            height, width = first.shape[:2]
            if height % 2 or width % 2:
                record["encoded_size"] = [height + height % 2, width + width % 2]
                logger.info("%s: %d×%d frames padded to even sides for H.264", self.path, height, width)
            write = self._video_writer(count, fps, record)
        else:
            write = self._tiff_writer(count, first, record)
        _write_pair(self.path, write, json.dumps(record, indent=2, default=str))
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.path

    def _tidy(self, count: int) -> None:
        """Remove frames of an earlier, longer run (PNGs with a key, not this run's) and temporaries a kill left."""
        keep = {self.frame_path(index).name for index in range(count)}
        for entry in self.folder.iterdir():
            leftover = entry.name.startswith(".") and re.fullmatch(r"\..+\.png\..+\.png", entry.name)
            stale = entry.suffix == ".png" and entry.name not in keep and not entry.name.startswith(".") \
                and frame_key(entry) is not None
            if entry.is_file() and (leftover or stale):
                entry.unlink(missing_ok=True)

    def _video_writer(self, count: int, fps: float, record: dict) -> Any:
        ffmpeg = _ffmpeg(self.path)
        comment = json.dumps(record, separators=(",", ":"), default=str)
        if len(comment) > _COMMENT_LIMIT:
            comment = json.dumps({"nst_provenance": sidecar_path(self.path).name})

        def write(tmp: Path) -> None:
            writer = None
            try:
                for values in self._frames(count):
                    frame = _video_frame(values)
                    if writer is None:
                        writer = ffmpeg.write_frames(
                            str(tmp), (frame.shape[1], frame.shape[0]), fps=fps, codec="libx264",
                            pix_fmt_in="rgb24", pix_fmt_out="yuv420p", quality=None, macro_block_size=1,
                            ffmpeg_log_level="error",
                            output_params=["-crf", _CRF, "-preset", "medium", "-metadata", f"comment={comment}"])
                        writer.send(None)
                    writer.send(frame)
                writer.close()
            except (OSError, RuntimeError) as exc:
                if writer is not None:
                    writer.close()
                raise ImageError(f"cannot encode {self.path}: {ffmpeg_reason(exc)}") from None

        return write

    def _tiff_writer(self, count: int, first: np.ndarray, record: dict) -> Any:
        # tifffile takes a JSON description with a "shape" key for its own shaped metadata
        # and then fails to read the file (see nst_engine.files.write_image).
        text = json.dumps(record, default=str).replace('"shape":', '"\\u0073hape":')

        def frames() -> Iterator[np.ndarray]:
            for index, values in enumerate(self._frames(count)):
                if values.shape != first.shape:
                    raise ImageError(f"cannot stack frame {index} ({values.shape}) with frame 0 ({first.shape}) "
                                     f"in {self.path}; write a frame folder instead")
                yield values

        def write(tmp: Path) -> None:
            tifffile.imwrite(tmp, frames(), shape=(count, *first.shape), dtype=np.uint16, description=text,
                             photometric="rgb" if first.ndim == 3 else "minisblack")

        return write


def _video_frame(values: np.ndarray) -> np.ndarray:
    """A stored 16-bit frame as the 8-bit RGB H.264 takes: alpha dropped, gray made RGB, sides made even."""
    frame = np.rint(values.astype(np.float32) / 257.0).astype(np.uint8)
    frame = np.repeat(frame[..., None], 3, axis=-1) if frame.ndim == 2 else frame[..., :3]
    # yuv420p halves the chroma both ways: the last row or column is repeated to an even side.
    pad = ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0))
    return np.ascontiguousarray(np.pad(frame, pad, mode="edge") if any(p[1] for p in pad) else frame)


def _container_comment(path: Path) -> dict | None:
    try:
        ffmpeg = _ffmpeg(path)
        run = subprocess.run([ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                             timeout=60, check=False)
    except (ImageError, OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^\s*comment\s*:\s*(\{.*\})\s*$", run.stderr.decode("utf-8", "replace"), re.MULTILINE)
    try:
        record = json.loads(found.group(1)) if found else None
    except ValueError:
        return None
    return record if isinstance(record, dict) and "nst_provenance" not in record else None


def read_video_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance of a video run's output: a frame folder's ``provenance.json``, else the sidecar, else what the file
    holds (a TIFF's description, a video container's comment); ``None`` if none."""
    path = Path(path)
    if path.is_dir():
        try:
            record = json.loads((path / "provenance.json").read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None
    found = read_provenance(path) if path.suffix.lower() in _TIFF_SUFFIXES or sidecar_path(path).is_file() else None
    if found is None and path.suffix.lower() in VIDEO_OUTPUT_SUFFIXES and path.is_file():
        found = _container_comment(path)
    return found
