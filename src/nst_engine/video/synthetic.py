"""Synthetic clips with known motion, for the video tests and benchmarks.

Each frame samples a larger canvas made from a ``skimage.data`` image (no download), so
content really enters the frame instead of wrapping round, and the motion can be subpixel.
The true flows follow :mod:`nst_engine.video.flow`'s convention: ``backward_flow[t]`` maps
pixels of frame ``t`` to frame ``t − 1`` (``frames[t](p) = frames[t−1](p + w(p))``),
``forward_flow[t]`` pixels of frame ``t − 1`` to frame ``t``; both are zero at ``t = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Clip", "pan", "zoom", "moving_object", "moving_square"]

#: Cubic sampling, so that re-sampling a frame bilinearly (``warp``) is close to sampling the
#: canvas directly.
_SPLINE_ORDER = 3

#: Gaussian σ before downsampling, in units of the sampling step (image px per canvas px).
_ANTIALIAS = 0.6


@dataclass(frozen=True)
class Clip:
    """Frames with their true motion.

    Attributes
    ----------
    frames
        ``T×H×W×3`` float32 RGB in [0, 1].
    backward_flow
        ``T×H×W×2`` float32, frame ``t`` → frame ``t − 1`` (x, y); zeros at ``t = 0``.
    forward_flow
        ``T×H×W×2`` float32, frame ``t − 1`` → frame ``t`` on frame ``t − 1``'s pixels; zeros
        at ``t = 0``. With ``backward_flow[t]`` it is the pair
        :func:`~nst_engine.video.occlusion.consistency_weights` takes for frame ``t``.
    disoccluded
        ``T×H×W`` bool: pixels of frame ``t`` not visible in frame ``t − 1`` (content that
        entered the frame or was uncovered); all False at ``t = 0``.
    """

    frames: np.ndarray
    backward_flow: np.ndarray
    forward_flow: np.ndarray
    disoccluded: np.ndarray


@lru_cache(maxsize=8)
def _image(name: str) -> np.ndarray:
    from skimage import data
    from skimage.util import img_as_float32

    image = img_as_float32(getattr(data, name)())
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


@lru_cache(maxsize=8)
def _prefiltered(name: str, scale: float) -> np.ndarray:
    """Image ``name`` blurred for sampling every ``scale`` px, so frames are not aliased.

    Aliased frames would make bilinear warping (and every flow method) look worse than they
    are on real, band-limited video.
    """
    from scipy.ndimage import gaussian_filter

    image = _image(name)
    if scale <= 1:
        return image
    return gaussian_filter(image, sigma=(_ANTIALIAS * scale, _ANTIALIAS * scale, 0), mode="mirror")


def _sample(name: str, x: np.ndarray, y: np.ndarray, extent: float) -> np.ndarray:
    """RGB of image ``name`` at canvas positions ``(x, y)``; the canvas is ``extent`` px wide."""
    from scipy.ndimage import map_coordinates

    scale = (min(_image(name).shape[:2]) - 1) / extent
    image = _prefiltered(name, round(scale, 3))
    coordinates = [y * scale, x * scale]
    channels = [
        map_coordinates(image[..., c], coordinates, order=_SPLINE_ORDER, mode="mirror")
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    return columns, rows


def _outside(size: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x < 0) | (x > size - 1) | (y < 0) | (y > size - 1)


def _clip(frames: list, backward: list, forward: list, disoccluded: list) -> Clip:
    return Clip(
        frames=np.stack(frames).astype(np.float32),
        backward_flow=np.stack(backward).astype(np.float32),
        forward_flow=np.stack(forward).astype(np.float32),
        disoccluded=np.stack(disoccluded),
    )


def pan(
    *, frames: int = 24, size: int = 256, speed: tuple[float, float] = (2.5, 1.0),
    image: str = "astronaut",
) -> Clip:
    """A camera pan: the view moves ``speed = (dx, dy)`` canvas pixels per frame.

    Content moves by ``−speed`` in the frame, so the backward flow is ``+speed`` everywhere
    and the strip entering at the leading edges is disoccluded.
    """
    dx, dy = speed
    travel_x, travel_y = abs(dx) * (frames - 1), abs(dy) * (frames - 1)
    extent = size + max(travel_x, travel_y)
    start_x = travel_x if dx < 0 else 0.0
    start_y = travel_y if dy < 0 else 0.0
    x, y = _grid(size)
    shift = np.array([dx, dy], dtype=np.float32)
    moved_out = _outside(size, x + dx, y + dy)
    result: tuple[list, list, list, list] = ([], [], [], [])
    for t in range(frames):
        result[0].append(_sample(image, x + start_x + t * dx, y + start_y + t * dy, extent))
        moving = t > 0
        result[1].append(np.broadcast_to(shift * moving, (size, size, 2)))
        result[2].append(np.broadcast_to(-shift * moving, (size, size, 2)))
        result[3].append(moved_out & moving)
    return _clip(*result)


def zoom(
    *, frames: int = 24, size: int = 256, factor: float = 1.02, image: str = "astronaut"
) -> Clip:
    """A zoom about the frame centre, magnifying by ``factor`` per frame (< 1 zooms out).

    The backward flow is ``(p − centre)(1/factor − 1)``: zero at the centre, growing towards
    the edges. Zooming out brings new content in at the borders (disoccluded).
    """
    x, y = _grid(size)
    centre = (size - 1) / 2.0
    widest = size / min(1.0, factor ** (frames - 1))
    extent = widest
    backward = np.stack([(x - centre), (y - centre)], axis=-1) * (1.0 / factor - 1.0)
    forward = np.stack([(x - centre), (y - centre)], axis=-1) * (factor - 1.0)
    moved_out = _outside(size, x + backward[..., 0], y + backward[..., 1])
    canvas_centre = extent / 2.0
    result: tuple[list, list, list, list] = ([], [], [], [])
    for t in range(frames):
        magnification = factor**t
        result[0].append(_sample(
            image, canvas_centre + (x - centre) / magnification,
            canvas_centre + (y - centre) / magnification, extent,
        ))
        moving = t > 0
        result[1].append(backward * moving)
        result[2].append(forward * moving)
        result[3].append(moved_out & moving)
    return _clip(*result)


def moving_object(
    *, frames: int = 24, size: int = 256, speed: tuple[float, float] = (3.0, 2.0),
    square: int | None = None, image: str = "astronaut", texture: str = "coffee",
) -> Clip:
    """A textured square sliding over a static textured background.

    The square (side ``square``, default a third of the frame) moves ``speed`` px per frame
    from near one corner; its backward flow is ``−speed``, the background's 0. The strip of
    background it uncovers each frame is disoccluded, the strip it covers occluded.

    Raises
    ------
    ValueError
        When the square would leave the frame during the clip.
    """
    side = size // 3 if square is None else square
    dx, dy = speed
    margin = 4.0
    start_x = size - margin - side - abs(dx) * (frames - 1) if dx < 0 else margin
    start_y = size - margin - side - abs(dy) * (frames - 1) if dy < 0 else margin
    end_x, end_y = start_x + dx * (frames - 1), start_y + dy * (frames - 1)
    if min(start_x, end_x, start_y, end_y) < 0 or max(start_x, end_x, start_y, end_y) + side > size:
        raise ValueError(
            f"a {side} px square moving {speed} px per frame for {frames} frames leaves a "
            f"{size} px frame; use fewer frames, a lower speed or a smaller square"
        )
    x, y = _grid(size)
    background = _sample(image, x, y, float(size))
    velocity = np.array([dx, dy], dtype=np.float32)

    def covered(t: int) -> np.ndarray:
        left, top = start_x + t * dx, start_y + t * dy
        return (x >= left) & (x < left + side) & (y >= top) & (y < top + side)

    result: tuple[list, list, list, list] = ([], [], [], [])
    for t in range(frames):
        inside = covered(t)
        left, top = start_x + t * dx, start_y + t * dy
        frame = background.copy()
        frame[inside] = _sample(texture, x - left, y - top, float(side))[inside]
        result[0].append(frame)
        if t == 0:
            result[1].append(np.zeros((size, size, 2), np.float32))
            result[2].append(np.zeros((size, size, 2), np.float32))
            result[3].append(np.zeros((size, size), bool))
            continue
        before = covered(t - 1)
        result[1].append(np.where(inside[..., None], -velocity, 0.0))
        result[2].append(np.where(before[..., None], velocity, 0.0))
        result[3].append(before & ~inside)
    return _clip(*result)


def moving_square(
    *, frames: int = 24, size: int = 256, side: int | None = None, speed: float = 4.0,
    background: str = "brick", square: str = "coffee",
) -> Clip:
    """A textured square sliding right ``speed`` px per frame: :func:`moving_object` in one axis."""
    return moving_object(
        frames=frames, size=size, speed=(speed, 0.0), square=side, image=background,
        texture=square,
    )
