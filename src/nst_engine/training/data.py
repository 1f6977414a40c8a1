"""The training images and the random crops a feed-forward network learns from.

Johnson et al. 2016 train on 256² crops of COCO; here the images are whatever is to be
styled (a time-lapse's frames, a folder of photographs), read once, reduced so that their
shorter side is at most :data:`ZOOM` times the crop side, and written as float16 to one
anonymous temporary file (:class:`~nst_engine.training.image_store.ImageStore`), so that memory
does not grow with their number; a crop reads only its rows back. Each step's batch is a
function of ``(seed, step)`` alone, so a resumed run draws exactly the crops an uninterrupted
one would: the images are visited in a fresh permutation per epoch, and each crop's side
(from the crop size up to the image's shorter side) and place are drawn at random, then
resized to ``size``².
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ImageError
from ..images import is_image, max_side_shape, resize_to, split_image
from .image_store import ImageStore, check_free_space, store_folder, stored_bytes

__all__ = ["ZOOM", "TrainingImages", "read_training_images", "image_digest"]

#: Crops are drawn with sides from the crop size up to this many times it: some zoom variety
#: without keeping a 4K frame whole.
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
    """The training images as float16 ``H×W×3`` in [0, 1], reduced for crops of side ``size``, on disk.

    Close it (or leave its ``with`` block) to free the disk space of its file.
    """

    store: ImageStore = field(repr=False)
    size: int
    #: Where they came from: a path or glob as given, or ``"arrays"``.
    source: str
    #: ``"arrays"``, ``"folder"``, ``"glob"``, ``"file"``, ``"video"`` or ``"tiff"``.
    kind: str
    #: SHA-256 over every image as read (dtype, shape, bytes), in order.
    sha256: str

    def __len__(self) -> int:
        return len(self.store)

    def __enter__(self) -> TrainingImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store's file: its disk space is freed."""
        self.store.close()

    def describe(self) -> dict:
        return {"count": len(self), "source": self.source, "kind": self.kind, "sha256": self.sha256,
                "shapes": sorted(set(self.store.shapes))[:8]}

    def storage(self) -> dict:
        """Where the pixels are and how many bytes they take: what a front end tells the user."""
        return {"count": len(self), "bytes": self.store.nbytes, "folder": str(self.store.folder)}

    def indices(self, step: int, batch_size: int, seed: int) -> list[int]:
        """The images of step ``step``'s batch (0-based): epoch after epoch, each a fresh permutation."""
        count = len(self)
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
            rows, cols = self.store.shape(index)
            short = min(rows, cols)
            side = int(rng.integers(min(self.size, short), short + 1))
            top, left = int(rng.integers(0, rows - side + 1)), int(rng.integers(0, cols - side + 1))
            band = self.store.rows(index, top, top + side)
            crop = torch.from_numpy(np.ascontiguousarray(band[:, left:left + side])).float()
            crop = crop.permute(2, 0, 1)[None]
            if side != self.size:
                crop = F.interpolate(crop, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                     antialias=side > self.size).clamp(0, 1)
            crops.append(crop)
        return torch.cat(crops)


def _reduced_shape(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """(rows, columns) shrunk so the shorter side is at most ``ZOOM × size`` (never enlarged)."""
    rows, cols = int(shape[0]), int(shape[1])
    short, limit = min(rows, cols), int(np.ceil(ZOOM * size))
    if short <= limit:
        return rows, cols
    return max_side_shape((rows, cols), int(round(max(rows, cols) * limit / short)))


def _reduced(image: np.ndarray, size: int, what: str) -> np.ndarray:
    """RGB float16 at :func:`_reduced_shape`."""
    rgb, _ = split_image(image, what=what)
    shape = _reduced_shape(rgb.shape[:2], size)
    if shape != rgb.shape[:2]:
        rgb = resize_to(rgb, shape)
    return rgb.astype(np.float16)


@dataclass(frozen=True)
class _Inputs:
    """What is about to be read: its kind, each image's (rows, columns) from the headers, the images and their names."""

    kind: str
    shapes: list[tuple[int, int]]
    images: Iterator[tuple[np.ndarray, str]]


def _files(paths: Iterable[Path]) -> list[Path]:
    return sorted(p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _file_inputs(files: Sequence[Path], kind: str) -> _Inputs:
    from ..files import read_image  # here: files imports the large-image readers
    from ..video.frame_reading import _frame_size

    return _Inputs(kind, [_frame_size(file) for file in files], ((read_image(file), str(file)) for file in files))


@contextmanager
def _clip_inputs(path: Path) -> Iterator[_Inputs]:
    from ..video.frame_reading import open_frames

    with open_frames(path) as frames:
        yield _Inputs(frames.kind, [frames.shape] * len(frames),
                      ((frame, f"frame {index} of {path}") for index, frame in enumerate(frames)))


def _array_inputs(images: Sequence[np.ndarray]) -> _Inputs:
    if isinstance(images, np.ndarray):
        raise ImageError("images must be a list of arrays or a path, not one array: pass [image], or a "
                         "(T, H, W[, C]) stack as list(stack)")
    arrays = [np.asarray(image) for image in images]
    if not arrays:
        raise ImageError(f"images is an empty list: pass at least one image; {_HINT}")
    # Arrays that are no image add nothing to the disk estimate: reducing them refuses them by name.
    return _Inputs("arrays", [array.shape[:2] for array in arrays if is_image(array)],
                   ((array, f"training image {index}") for index, array in enumerate(arrays)))


def _inputs(images: str | os.PathLike | Sequence[np.ndarray]) -> AbstractContextManager[_Inputs]:
    """The inputs ``images`` names, refused in one line if there are none or they cannot be read."""
    if not isinstance(images, (str, os.PathLike)):
        return nullcontext(_array_inputs(images))
    text = os.fspath(images)
    path = Path(text).expanduser()
    if path.is_dir():
        files = _files(path.iterdir())
        if not files:
            raise ImageError(f"no training images in {path}: it holds no PNG, JPEG or TIFF files; {_HINT}")
        return nullcontext(_file_inputs(files, "folder"))
    if glob.has_magic(text):
        files = _files(Path(p) for p in glob.glob(os.path.expanduser(text)))
        if not files:
            raise ImageError(f"no training images match {text!r}: no PNG, JPEG or TIFF file fits that glob; {_HINT}")
        return nullcontext(_file_inputs(files, "glob"))
    if not path.exists():
        raise ImageError(f"no training images at {path}: nothing is there; {_HINT}")
    if path.suffix.lower() in _CLIP_SUFFIXES:
        return _clip_inputs(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return nullcontext(_file_inputs([path], "file"))
    raise ImageError(f"cannot train on {path}: {path.suffix or 'no extension'} is neither an image, a video "
                     f"nor a TIFF stack; {_HINT}")


def _stored(inputs: _Inputs, size: int, folder: Path, digest: "hashlib._Hash") -> ImageStore:
    """Read, digest and reduce every image into a new store, once the disk is known to have room."""
    shapes = [_reduced_shape(shape, size) for shape in inputs.shapes]
    check_free_space(folder, stored_bytes(shapes), count=len(shapes))
    store = ImageStore(folder)
    try:
        for image, what in inputs.images:
            image_digest(image, digest)
            store.append(_reduced(image, size, what))
    except BaseException:
        store.close()
        raise
    return store


def read_training_images(images: str | os.PathLike | Sequence[np.ndarray], *, size: int,
                         folder: str | os.PathLike | None = None) -> TrainingImages:
    """Read ``images`` for training on crops of side ``size``, into a file in ``folder``.

    Parameters
    ----------
    images
        A list of arrays (any engine image: gray, RGB, RGBA, integer or float), or a path: a
        folder of PNG, JPEG or TIFF files (any sizes), a glob (``"frames/*.png"``), a video
        file or a TIFF stack (its frames, through :func:`nst_engine.video.frame_reading.open_frames`).
    size
        The crop side; images are kept at up to :data:`ZOOM` times it.
    folder
        Where the anonymous file holding the reduced pixels goes (created if missing); default:
        the system's temporary folder (``$TMPDIR``). Close the result to free its space.

    Raises
    ------
    ImageError
        No images, or one that cannot be read: one line naming the path and the fix.
    ResourceError
        The reduced images would not fit on ``folder``'s disk (checked before any is decoded).
    """
    digest, where = hashlib.sha256(), store_folder(folder)
    source = os.fspath(images) if isinstance(images, (str, os.PathLike)) else "arrays"
    with _inputs(images) as inputs:
        store = _stored(inputs, size, where, digest)
    return TrainingImages(store, size, source, inputs.kind, digest.hexdigest())
