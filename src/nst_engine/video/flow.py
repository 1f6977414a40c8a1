"""Optical flow between input frames, and warping along it, from OpenCV and scikit-image.

Convention (OpenCV's): ``optical_flow(a, b)`` is ``w`` with ``a(p) ≈ b(p + w(p))``, where
``w[..., 0]`` is the column (x) and ``w[..., 1]`` the row (y) displacement; ``warp(b, w)``
samples ``b`` at ``p + w(p)`` and so gives an image aligned with ``a``. A video frame *i* is
started from ``warp(result[i-1], optical_flow(frame[i], frame[i-1]))``.

Methods: ``"dis"`` (Kroeger et al. 2016, OpenCV's DIS, medium preset), ``"tvl1"`` and
``"ilk"`` (scikit-image's TV-L1 and iterative Lucas-Kanade). DIS is the default: at 256² it
takes milliseconds where TV-L1 takes about a second (tests/engine/test_video_flow.py checks
each recovers a known shift).
"""

from __future__ import annotations

import numpy as np

from ..images import split_image

__all__ = ["FLOW_METHODS", "DEFAULT_FLOW", "optical_flow", "warp", "flow_pair"]

FLOW_METHODS = ("dis", "tvl1", "ilk")
DEFAULT_FLOW = "dis"


def _gray(image: np.ndarray, what: str) -> np.ndarray:
    rgb = split_image(image, what=what)[0]
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def optical_flow(source: np.ndarray, target: np.ndarray, *, method: str = DEFAULT_FLOW) -> np.ndarray:
    """Where each pixel of ``source`` went in ``target``: float32 ``H×W×2`` (x, y), see the module docstring."""
    if method not in FLOW_METHODS:
        raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}; got {method!r}")
    a, b = _gray(source, "flow source"), _gray(target, "flow target")
    if a.shape != b.shape:
        raise ValueError(f"optical flow needs frames of one size; got {a.shape[1]}×{a.shape[0]} and "
                         f"{b.shape[1]}×{b.shape[0]}")
    if method == "dis":
        import cv2

        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        to8 = lambda g: np.clip(np.rint(g * 255), 0, 255).astype(np.uint8)  # noqa: E731 - DIS takes 8-bit gray
        return dis.calc(to8(a), to8(b), None).astype(np.float32)
    from skimage.registration import optical_flow_ilk, optical_flow_tvl1

    rows, cols = (optical_flow_tvl1 if method == "tvl1" else optical_flow_ilk)(a, b)
    return np.stack([cols, rows], axis=-1).astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``p + flow(p)`` (bilinear, edges replicated): aligned with the flow's source."""
    import cv2

    image = np.asarray(image, np.float32)
    if image.shape[:2] != flow.shape[:2]:
        raise ValueError(f"warp: image {image.shape[1]}×{image.shape[0]} but flow {flow.shape[1]}×{flow.shape[0]}")
    rows, cols = np.indices(flow.shape[:2], dtype=np.float32)
    out = cv2.remap(image, cols + flow[..., 0], rows + flow[..., 1], interpolation=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)


def flow_pair(previous: np.ndarray, current: np.ndarray, *, method: str = DEFAULT_FLOW) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, backward)``: ``previous`` → ``current`` and ``current`` → ``previous``."""
    return optical_flow(previous, current, method=method), optical_flow(current, previous, method=method)
