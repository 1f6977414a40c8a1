"""Clips with known motion, cut from ``skimage.data`` images: what flow, weights and flicker are measured on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Clip", "pan", "moving_square"]


@dataclass(frozen=True)
class Clip:
    """Frames ``(T, H, W, 3)`` in [0, 1], the true backward flow of each frame (to the one before;
    zeros for frame 0) and the pixels of each frame that the one before does not show."""

    frames: np.ndarray
    backward_flow: np.ndarray
    disoccluded: np.ndarray


def _picture(name: str, side: int) -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    image = getattr(data, name)()
    image = np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]
    return resize(image, (side, side), anti_aliasing=True).astype(np.float32)


def pan(*, frames: int = 24, size: int = 256, speed: tuple[int, int] = (3, 1), image: str = "astronaut") -> Clip:
    """A camera pan: each frame is the window ``speed`` (x, y) px further on a larger picture."""
    dx, dy = speed
    big = _picture(image, size + frames * max(abs(dx), abs(dy)) + 1)
    shots, flows, new = [], [], []
    for t in range(frames):
        shots.append(big[t * dy: t * dy + size, t * dx: t * dx + size])
        flow = np.zeros((size, size, 2), np.float32)
        if t:
            flow[..., 0], flow[..., 1] = dx, dy
        flows.append(flow)
        hidden = np.zeros((size, size), bool)
        if t:
            hidden[:, size - dx:] = dx > 0
            hidden[size - dy:, :] |= dy > 0
        new.append(hidden)
    return Clip(np.stack(shots), np.stack(flows), np.stack(new))


def moving_square(*, frames: int = 24, size: int = 256, side: int | None = None, speed: int = 4,
                  background: str = "brick", square: str = "coffee") -> Clip:
    """A textured square sliding right over a still textured background: occlusion and disocclusion."""
    side = side or size // 3
    back, patch = _picture(background, size), _picture(square, side)
    top = (size - side) // 2
    shots, flows, new = [], [], []
    for t in range(frames):
        left = 4 + t * speed
        shot = back.copy()
        shot[top:top + side, left:left + side] = patch
        inside = np.zeros((size, size), bool)
        inside[top:top + side, left:left + side] = True
        flow = np.zeros((size, size, 2), np.float32)
        hidden = np.zeros((size, size), bool)
        if t:
            flow[inside, 0] = -speed
            previous = np.zeros((size, size), bool)
            previous[top:top + side, left - speed:left - speed + side] = True
            hidden = previous & ~inside  # background uncovered behind the square
        shots.append(shot)
        flows.append(flow)
        new.append(hidden)
    return Clip(np.stack(shots), np.stack(flows), np.stack(new))
