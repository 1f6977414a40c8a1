"""Temporal blending of a feed-forward model's frames: less flicker for two flow estimates a frame.

A feed-forward network styles each frame on its own, so what changes little between frames
(noise, a small move, light) can change its strokes a lot: the clip flickers. Here each
result is pulled towards the previous result warped along the optical flow, where that warp
can be trusted (Ruder, Dosovitskiy & Brox 2016's consistency weights ``c``):

    out_t = y_t + strength · c_t · (warp(out_{t−1}) − y_t)

``y_t`` is the model's frame. Recursive, it averages each surface point's strokes over the
frames it is seen in, with weights falling by ``strength`` a frame; disoccluded pixels
(``c = 0``) take the model's frame as it is. It is the training-free counterpart of training
the network with a temporal loss (Huang et al. 2017), at no cost to the model's speed beyond
the flow, and a higher ``strength`` trades flicker for trailing strokes on what moves.
"""

from __future__ import annotations

import numpy as np

from ..errors import OptionError
from ..images import resize_to, split_image
from ..video.flow import flow_pair, warp
from ..video.occlusion import consistency_weights

__all__ = ["TemporalBlend", "check_strength"]


def check_strength(strength: float) -> float:
    """``strength`` as a float in [0, 1): at 1 the first frame's strokes would never fade."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength < 1.0:
        raise OptionError(f"temporal_blend must be a number from 0 (off) up to but not including 1, not {strength!r}",
                          option="temporal_blend")
    return float(strength)


class TemporalBlend:
    """Blends each frame's result with the previous one warped by the flow (see the module docstring).

    For each frame in order: ``blended = blend(frame, result)``, then ``blend.remember(frame,
    kept)`` with the result as kept (as a sink stored it, or as reused from it), which the next
    frame is blended with: a resumed clip then equals an uninterrupted one.
    """

    def __init__(self, strength: float) -> None:
        self.strength = check_strength(strength)
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (input frame at the result's size, result)

    def __call__(self, frame: np.ndarray, result: np.ndarray) -> np.ndarray:
        rgb = result[..., :3]
        content = _at_size(frame, rgb)
        if self._previous is None or self.strength == 0 or self._previous[0].shape != content.shape:
            return result
        previous_content, previous_result = self._previous
        forward, backward = flow_pair(previous_content, content)
        pull = self.strength * consistency_weights(forward, backward)[..., None]
        blended = np.clip(rgb + pull * (warp(previous_result, backward) - rgb), 0.0, 1.0).astype(np.float32)
        return np.concatenate([blended, result[..., 3:]], axis=-1) if result.shape[-1] == 4 else blended

    def remember(self, frame: np.ndarray, result: np.ndarray) -> None:
        """``result`` (as kept) is frame ``frame``'s: the next frame is blended with it."""
        self._previous = (_at_size(frame, result), np.asarray(result[..., :3], np.float32))


def _at_size(frame: np.ndarray, result: np.ndarray) -> np.ndarray:
    """The input frame as float RGB at the result's height and width (what the flow is estimated on)."""
    return resize_to(split_image(frame)[0], result.shape[:2])
