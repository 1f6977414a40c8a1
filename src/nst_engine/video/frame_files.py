"""Frames in and out: video files (imageio + imageio-ffmpeg), frame folders and TIFF stacks.

Outputs appear whole or not at all. Each finished frame is written at once, atomically, as a
16-bit TIFF with the key of everything it depends on (:class:`FrameFolder`): into the output
folder itself for a frame-folder output, else into a hidden staging folder beside the output,
from which the video or TIFF stack is assembled under a temporary name and renamed into place
when the last frame is done. An interrupted run leaves whole frames only, and the next run
with the same inputs and options reuses them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from ..errors import ImageError
from ..files import atomic_write, read_image, read_provenance, sidecar_path, write_image
from ..images import to_uint, to_unit_float

__all__ = ["VIDEO_SUFFIXES", "output_kind", "read_frames", "FrameFolder", "write_frames"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
_TIFF = (".tif", ".tiff")
_FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: When the input says nothing of its frame rate (frame folders, TIFF stacks).
DEFAULT_FPS = 24.0


def _natural(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _ffmpeg_reason(exc: Exception) -> str:
    """ffmpeg's own last line (e.g. "Invalid data found when processing input"), without its banner."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1].split(": ", 1)[-1] if lines else type(exc).__name__


def _read_video(path: Path) -> tuple[list[np.ndarray], float | None]:
    try:
        import imageio.v2 as iio
        import imageio_ffmpeg  # noqa: F401 - the backend: say so when it is missing
    except ImportError:
        raise ImageError(f"cannot decode {path.name}: no ffmpeg backend; pip install imageio-ffmpeg") from None
    try:
        reader = iio.get_reader(path, format="FFMPEG")
        fps = reader.get_meta_data().get("fps")
        frames = [np.asarray(frame) for frame in reader]
        reader.close()
    except Exception as exc:  # noqa: BLE001 - ffmpeg says what is wrong in its last line
        raise ImageError(f"cannot decode {path.name}: {_ffmpeg_reason(exc)} (ffmpeg through imageio-ffmpeg)") from None
    if not frames:
        raise ImageError(f"{path.name} holds no frames")
    return frames, float(fps) if fps else None


def read_frames(path: str | os.PathLike) -> tuple[list[np.ndarray], float | None]:
    """The frames of a video file, a folder of frame images (in natural order) or a TIFF stack, and the frame rate if known."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path} does not exist: give a video file, a folder of frames or a TIFF stack")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES and not p.name.startswith(".")),
                       key=_natural)
        if not files:
            raise ImageError(f"{path} holds no frame images ({', '.join(_FRAME_SUFFIXES)})")
        frames = [read_image(p) for p in files]
        for file, frame in zip(files[1:], frames[1:]):
            if frame.shape[:2] != frames[0].shape[:2]:
                raise ImageError(f"frame {file.name} is {frame.shape[1]}×{frame.shape[0]} but {files[0].name} is "
                                 f"{frames[0].shape[1]}×{frames[0].shape[0]}: a video's frames share one size")
        return frames, None
    if path.suffix.lower() in _TIFF:
        import tifffile

        stack = tifffile.imread(path)
        if stack.ndim not in (3, 4) or (stack.ndim == 3 and stack.shape[-1] in (3, 4) and stack.shape[0] > 4):
            raise ImageError(f"{path.name} has shape {stack.shape}; expected a (T, H, W) or (T, H, W, C) stack")
        return list(stack), None
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return _read_video(path)
    raise ImageError(f"{path.name}: unknown kind; give a video ({', '.join(VIDEO_SUFFIXES)}), a TIFF stack or a folder")


def output_kind(path: str | os.PathLike) -> str:
    """``"video"``, ``"tiff"`` or ``"frames"`` (a folder: an existing one, or a name without a suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in _TIFF:
        return "tiff"
    if path.is_dir() or not suffix:
        return "frames"
    raise ImageError(f"{path.name}: cannot write {suffix} frames; use a video ({', '.join(VIDEO_SUFFIXES)}), "
                     ".tif or a folder name")


class FrameFolder:
    """Finished frames on disk, each a whole 16-bit TIFF with its key (the :class:`~nst_engine.video.stylize.FrameSink`)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        return self.folder / f"frame_{index:05d}.tif"

    def reusable(self, index: int, key: str) -> np.ndarray | None:
        path = self.path(index)
        if not path.is_file() or (read_provenance(path) or {}).get("key") != key:
            return None
        return to_unit_float(read_image(path), path.name)

    def put(self, index: int, image: np.ndarray, key: str) -> None:
        write_image(self.path(index), image, provenance={"key": key, "frame": index})

    def frames(self, count: int) -> list[np.ndarray]:
        return [to_unit_float(read_image(self.path(i)), f"frame {i}") for i in range(count)]


def staging_folder(output: str | os.PathLike) -> Path:
    """Where the frames of ``output`` wait: the folder itself for a frame folder, else a hidden one beside it."""
    output = Path(output)
    return output if output_kind(output) == "frames" else output.parent / f".{output.name}.frames"


def write_frames(output: str | os.PathLike, store: FrameFolder, count: int, *, provenance: dict,
                 fps: float | None) -> Path:
    """Assemble the finished output from ``store``'s ``count`` frames, atomically, with ``provenance``."""
    output = Path(output)
    kind = output_kind(output)
    text = json.dumps(provenance, indent=2, default=str)
    if kind == "frames":
        for stale in store.folder.glob("frame_*.tif"):
            if int(stale.stem.split("_")[1]) >= count:
                stale.unlink()
                sidecar_path(stale).unlink(missing_ok=True)
        atomic_write(output / "provenance.json", lambda tmp: tmp.write_text(text))
        return output
    frames = store.frames(count)
    if kind == "tiff":
        write_image(output, np.stack(frames), provenance=provenance, rgb=frames[0].ndim == 3)
    else:
        import imageio.v2 as iio

        def encode(tmp: Path) -> None:
            # libx264 with yuv420p needs even sides: the last row or column is repeated if not.
            even = [np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge") for f in frames]
            writer = iio.get_writer(tmp, format="FFMPEG", fps=fps or DEFAULT_FPS, quality=9, macro_block_size=1,
                                    ffmpeg_log_level="error", output_params=["-metadata", f"comment={json.dumps(provenance, default=str)}"])
            try:
                for frame in even:
                    writer.append_data(to_uint(frame[..., :3]))
            finally:
                writer.close()

        tmp = output.parent / f".{output.stem}.partial{output.suffix}"
        try:
            encode(tmp)
            atomic_write(sidecar_path(output), lambda side: side.write_text(text))
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
    shutil.rmtree(store.folder, ignore_errors=True)
    return output
