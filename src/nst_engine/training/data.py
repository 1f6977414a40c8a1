"""The training images and the random crops a feed-forward network learns from.

Johnson et al. 2016 train on 256² crops of COCO; here the images are whatever is to be
styled (a time-lapse's frames, a folder of photographs), read once, reduced so that their
shorter side is at most :data:`ZOOM` times the crop side, and kept in memory as float16. Each
step's batch is a function of ``(seed, step)`` alone, so a resumed run draws exactly the
crops an uninterrupted one would: the images are visited in a fresh permutation per epoch,
and each crop's side (from the crop size up to the image's shorter side) and place are drawn
at random, then resized to ``size``².
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ImageError
from ..images import max_side_shape, resize_to, split_image

__all__ = ["ZOOM", "TrainingImages", "read_training_images", "image_digest"]

#: Crops are drawn with sides from the crop size up to this many times it: some zoom variety
#: without keeping a 4K frame whole in memory.
ZOOM = 1.5
#: Files a folder or a glob of training images is made of.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_CLIP_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif", ".tif", ".tiff")
_HINT = ("give images as a folder of PNG, JPEG or TIFF files, a glob such as 'frames/*.png', a video or a "
         "TIFF stack (--images)")


def image_digest(image: np.ndarray, digest: "hashlib._Hash | None" = None) -> "hashlib._Hash":
    """SHA-256 of an array's dtype, shape and bytes (updating ``digest`` if given): what provenance names it by."""
    digest = digest or hashlib.sha256()
    array = np.ascontiguousarray(image)
    digest.update(f"{array.dtype.str}\0{array.shape}\0".encode())
    digest.update(array.tobytes())
    return digest


@dataclass(frozen=True)
class TrainingImages:
    """The training images as float16 ``H×W×3`` in [0, 1], reduced for crops of side ``size``."""

    images: tuple[np.ndarray, ...] = field(repr=False)
    size: int
    #: Where they came from: a path or glob as given, or ``"arrays"``.
    source: str
    #: ``"arrays"``, ``"folder"``, ``"glob"``, ``"file"``, ``"video"`` or ``"tiff"``.
    kind: str
    #: SHA-256 over every image as read (dtype, shape, bytes), in order.
    sha256: str

    def __len__(self) -> int:
        return len(self.images)

    def describe(self) -> dict:
        return {"count": len(self), "source": self.source, "kind": self.kind, "sha256": self.sha256,
                "shapes": sorted({tuple(image.shape[:2]) for image in self.images})[:8]}

    def indices(self, step: int, batch_size: int, seed: int) -> list[int]:
        """The images of step ``step``'s batch (0-based): epoch after epoch, each a fresh permutation."""
        count = len(self.images)
        out = []
        for position in range(step * batch_size, (step + 1) * batch_size):
            epoch, offset = divmod(position, count)
            out.append(int(np.random.default_rng((seed, epoch)).permutation(count)[offset]))
        return out

    def batch(self, step: int, batch_size: int, seed: int) -> torch.Tensor:
        """Step ``step``'s ``batch_size×3×size×size`` float32 crops: random side and place, resized."""
        rng = np.random.default_rng((seed, step, 1))
        crops = []
        for index in self.indices(step, batch_size, seed):
            image = self.images[index]
            rows, cols = image.shape[:2]
            short = min(rows, cols)
            side = int(rng.integers(min(self.size, short), short + 1))
            top, left = int(rng.integers(0, rows - side + 1)), int(rng.integers(0, cols - side + 1))
            crop = torch.from_numpy(np.ascontiguousarray(image[top:top + side, left:left + side])).float()
            crop = crop.permute(2, 0, 1)[None]
            if side != self.size:
                crop = F.interpolate(crop, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                     antialias=side > self.size).clamp(0, 1)
            crops.append(crop)
        return torch.cat(crops)


def _reduced(image: np.ndarray, size: int, what: str) -> np.ndarray:
    """RGB float16, shrunk so the shorter side is at most ``ZOOM × size`` (never enlarged here)."""
    rgb, _ = split_image(image, what=what)
    rows, cols = rgb.shape[:2]
    short = min(rows, cols)
    limit = int(np.ceil(ZOOM * size))
    if short > limit:
        longest = int(round(max(rows, cols) * limit / short))
        rgb = resize_to(rgb, max_side_shape((rows, cols), longest))
    return rgb.astype(np.float16)


def _files(paths: Iterable[Path]) -> list[Path]:
    return sorted(p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _read_files(files: Sequence[Path], size: int, digest: "hashlib._Hash") -> list[np.ndarray]:
    from ..files import read_image  # here: files imports the large-image readers

    out = []
    for file in files:
        image = read_image(file)
        image_digest(image, digest)
        out.append(_reduced(image, size, str(file)))
    return out


def _read_clip(path: Path, size: int, digest: "hashlib._Hash") -> tuple[list[np.ndarray], str]:
    from ..video.frame_reading import open_frames

    out = []
    with open_frames(path) as frames:
        for index, frame in enumerate(frames):
            image_digest(frame, digest)
            out.append(_reduced(frame, size, f"frame {index} of {path}"))
        return out, frames.kind


def read_training_images(images: str | os.PathLike | Sequence[np.ndarray], *, size: int) -> TrainingImages:
    """Read ``images`` for training on crops of side ``size``.

    Parameters
    ----------
    images
        A list of arrays (any engine image: gray, RGB, RGBA, integer or float), or a path: a
        folder of PNG, JPEG or TIFF files (any sizes), a glob (``"frames/*.png"``), a video
        file or a TIFF stack (its frames, through :func:`nst_engine.video.frame_reading.open_frames`).
    size
        The crop side; images are kept at up to :data:`ZOOM` times it.

    Raises
    ------
    ImageError
        No images, or one that cannot be read: one line naming the path and the fix.
    """
    digest = hashlib.sha256()
    if isinstance(images, (str, os.PathLike)):
        text = os.fspath(images)
        path = Path(text).expanduser()
        if path.is_dir():
            files = _files(path.iterdir())
            if not files:
                raise ImageError(f"no training images in {path}: it holds no PNG, JPEG or TIFF files; {_HINT}")
            arrays, kind = _read_files(files, size, digest), "folder"
        elif glob.has_magic(text):
            files = _files(Path(p) for p in glob.glob(os.path.expanduser(text)))
            if not files:
                raise ImageError(f"no training images match {text!r}: no PNG, JPEG or TIFF file fits that glob; "
                                 f"{_HINT}")
            arrays, kind = _read_files(files, size, digest), "glob"
        elif not path.exists():
            raise ImageError(f"no training images at {path}: nothing is there; {_HINT}")
        elif path.suffix.lower() in _CLIP_SUFFIXES:
            arrays, kind = _read_clip(path, size, digest)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            arrays, kind = _read_files([path], size, digest), "file"
        else:
            raise ImageError(f"cannot train on {path}: {path.suffix or 'no extension'} is neither an image, a video "
                             f"nor a TIFF stack; {_HINT}")
        source = text
    else:
        if isinstance(images, np.ndarray):
            raise ImageError("images must be a list of arrays or a path, not one array: pass [image], or a "
                             "(T, H, W[, C]) stack as list(stack)")
        arrays, kind, source = [], "arrays", "arrays"
        for index, image in enumerate(images):
            image_digest(np.asarray(image), digest)
            arrays.append(_reduced(np.asarray(image), size, f"training image {index}"))
        if not arrays:
            raise ImageError(f"images is an empty list: pass at least one image; {_HINT}")
    return TrainingImages(tuple(arrays), size, source, kind, digest.hexdigest())
