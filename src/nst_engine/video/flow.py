"""Dense optical flow between two frames, and backward warping along it.

Convention (OpenCV's): a flow ``w`` is float32 ``H×W×2``, ``w[..., 0]`` the x (column) and
``w[..., 1]`` the y (row) displacement in pixels. ``optical_flow(a, b)`` returns ``w`` with
``a(p) ≈ b(p + w(p))``: for each pixel of ``a``, where it went in ``b``. ``warp(b, w)`` samples
``b`` at ``p + w(p)`` and so gives an image aligned with ``a``. Ruder et al.'s initialisation
of frame ``i`` is therefore ``warp(result[i-1], optical_flow(frame[i], frame[i-1]))``.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

__all__ = ["FLOW_METHODS", "DEFAULT_FLOW", "FlowMethod", "optical_flow", "warp", "flow_pair"]

FlowMethod = Literal["dis", "tvl1", "ilk"]

#: The estimators, all from maintained libraries: OpenCV's DIS (Kroeger, Timofte, Dai & Van
#: Gool, "Fast optical flow using dense inverse search", ECCV 2016), scikit-image's TV-L1
#: (Zach, Pock & Bischof, DAGM 2007; Wedel et al. 2009) and iterative Lucas-Kanade.
FLOW_METHODS: tuple[str, ...] = ("dis", "tvl1", "ilk")

#: DIS: as accurate as TV-L1 on the synthetic clips and an order of magnitude faster, more
#: accurate than iterative Lucas-Kanade (``benchmarks/bench_flow.py``; table in
#: ``docs/video.md``).
DEFAULT_FLOW: FlowMethod = "dis"

#: DIS's MEDIUM preset refined down to full resolution with 8 px patches every 4 px: the
#: preset alone stops at quarter resolution, which smears the flow ~8 px across a moving
#: object's edge and misses most of its disocclusions (measured in ``bench_flow.py``).
_DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
_DIS_FINEST_SCALE = 0
_DIS_PATCH_SIZE = 8
_DIS_PATCH_STRIDE = 4

#: Rec. 601 luma, the weights OpenCV's and scikit-image's own RGB-to-gray use.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

#: OpenCV's remap takes at most 4 channels per call.
_REMAP_CHANNELS = 4


def _as_float(image: np.ndarray) -> np.ndarray:
    """Scale integer images to [0, 1]; floats are taken as already in [0, 1]."""
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    return image.astype(np.float32, copy=False)


def _gray(image: np.ndarray) -> np.ndarray:
    """A float32 H×W luminance in [0, 1] from gray, gray+alpha, RGB or RGBA of any dtype."""
    image = _as_float(np.asarray(image))
    if image.ndim == 2:
        gray = image
    elif image.ndim == 3 and image.shape[2] in (1, 2):
        gray = image[..., 0]
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        gray = image[..., :3] @ _LUMA
    else:
        raise ValueError(
            f"optical flow needs a gray, gray+alpha, RGB or RGBA frame (H×W or H×W×1-4), "
            f"got shape {image.shape}"
        )
    return np.clip(gray, 0.0, 1.0)


def _dis(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    def to_uint8(gray: np.ndarray) -> np.ndarray:
        return np.round(gray * 255.0).astype(np.uint8)

    estimator = cv2.DISOpticalFlow_create(_DIS_PRESET)
    estimator.setFinestScale(_DIS_FINEST_SCALE)
    estimator.setPatchSize(_DIS_PATCH_SIZE)
    estimator.setPatchStride(_DIS_PATCH_STRIDE)
    return estimator.calc(to_uint8(source), to_uint8(target), None)


def _skimage(source: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    from skimage.registration import optical_flow_ilk, optical_flow_tvl1

    estimate = optical_flow_tvl1 if method == "tvl1" else optical_flow_ilk
    # scikit-image returns (row, column) displacements with source(p) ≈ target(p + w): the
    # same direction as OpenCV, the axes the other way round.
    rows, columns = estimate(source, target)
    return np.stack([columns, rows], axis=-1).astype(np.float32)


def optical_flow(
    source: np.ndarray, target: np.ndarray, *, method: FlowMethod = DEFAULT_FLOW
) -> np.ndarray:
    """Dense optical flow ``w`` with ``source(p) ≈ target(p + w(p))``.

    Parameters
    ----------
    source, target
        Frames of equal height and width: gray, gray+alpha, RGB or RGBA; uint8, uint16 or
        float in [0, 1]. They are reduced to luminance (alpha ignored), which every method
        estimates motion on.
    method
        One of :data:`FLOW_METHODS`; :data:`DEFAULT_FLOW` is the measured best trade-off.

    Returns
    -------
    numpy.ndarray
        float32 ``H×W×2``: ``[..., 0]`` x (column), ``[..., 1]`` y (row) displacement, so that
        ``warp(target, w)`` is aligned with ``source``.
    """
    source, target = np.asarray(source), np.asarray(target)
    if source.shape[:2] != target.shape[:2]:
        raise ValueError(
            f"optical flow needs frames of equal size: source has shape {source.shape}, "
            f"target has shape {target.shape}"
        )
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown optical flow method {method!r}; choose one of {FLOW_METHODS}")
    gray_source, gray_target = _gray(source), _gray(target)
    if method == "dis":
        return _dis(gray_source, gray_target)
    return _skimage(gray_source, gray_target, method)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp ``image`` along ``flow``: ``out(p) = image(p + flow(p))``, bilinear.

    With ``flow = optical_flow(a, image)`` the result is aligned with ``a``. Positions outside
    the frame take the nearest edge pixel (their reliability is 0 in
    :func:`~nst_engine.video.occlusion.consistency_weights` anyway). OpenCV's ``remap`` does
    the sampling: measured several times faster than ``scipy.ndimage.map_coordinates``; it
    rounds sample positions to 1/32 px.

    Parameters
    ----------
    image
        ``H×W`` or ``H×W×C``, any dtype; values are not rescaled.
    flow
        float ``H×W×2`` in the convention of :func:`optical_flow`.

    Returns
    -------
    numpy.ndarray
        float32 with ``image``'s shape.
    """
    image, flow = np.asarray(image), np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or image.shape[:2] != flow.shape[:2]:
        raise ValueError(
            f"warp needs an H×W×2 flow of the image's size: image has shape {image.shape}, "
            f"flow has shape {flow.shape}"
        )
    height, width = flow.shape[:2]
    columns, rows = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    map_x = columns + flow[..., 0].astype(np.float32)
    map_y = rows + flow[..., 1].astype(np.float32)
    source = image.astype(np.float32, copy=False)

    def remap(channels: np.ndarray) -> np.ndarray:
        return cv2.remap(
            channels, map_x, map_y, interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    if source.ndim == 2 or source.shape[2] <= _REMAP_CHANNELS:
        return remap(source).reshape(image.shape)
    chunks = [
        remap(source[..., start : start + _REMAP_CHANNELS]).reshape(height, width, -1)
        for start in range(0, source.shape[2], _REMAP_CHANNELS)
    ]
    return np.concatenate(chunks, axis=2)


def flow_pair(
    previous: np.ndarray, current: np.ndarray, *, method: FlowMethod = DEFAULT_FLOW
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flow between consecutive frames, for Ruder et al.'s weights.

    Returns
    -------
    tuple of numpy.ndarray
        ``(forward, backward)``: ``forward = optical_flow(previous, current)`` (pixels of the
        previous frame), ``backward = optical_flow(current, previous)`` (pixels of the current
        frame: warp the previous result with it). Pass both to
        :func:`~nst_engine.video.occlusion.consistency_weights`.
    """
    forward = optical_flow(previous, current, method=method)
    backward = optical_flow(current, previous, method=method)
    return forward, backward
