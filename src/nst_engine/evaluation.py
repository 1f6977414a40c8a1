"""One call for the figures the seeds report: KL per channel, SSIM, Gram distance; for clips also flicker."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ImageError
from .images import resize_to, split_image
from .metrics.kl import kl_divergence
from .metrics.ssim import ssim
from .metrics.temporal import temporal_error
from .validation import check_choice

__all__ = ["evaluate", "evaluate_frames"]


def evaluate(
    original: np.ndarray,
    processed: np.ndarray,
    *,
    style: np.ndarray | None = None,
    backbone: str = "vgg19",
    backbone_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Color fidelity and structure of ``processed`` against ``original``; style closeness.

    ``kl`` is KL(original‖processed) per channel of kernel density estimates (floored, see
    :func:`nst_engine.metrics.kl_divergence`; ``kl_raw`` without the floor), ``ssim`` the
    luminance SSIM, and with ``style`` the Gram distance to it under ``backbone``.
    """
    kl = kl_divergence(original, processed)
    out: dict[str, Any] = {
        "kl": dict(zip(kl.channels, kl.values)),
        "kl_raw": dict(zip(kl.channels, kl.raw)),
        "kl_settings": {"bandwidth": kl.bandwidth_rule, "grid": kl.grid, "samples": kl.samples,
                        "floor": kl.floor, "direction": "KL(original || processed)"},
        "ssim": ssim(original, processed),
    }
    if style is not None:
        from .metrics.gram import gram_distance  # torch, only when a style is given

        out["gram_distance"] = gram_distance(processed, style, backbone=backbone, backbone_options=backbone_options)
        out["gram_backbone"] = backbone
    return out


def evaluate_frames(
    original: Sequence[np.ndarray],
    processed: Sequence[np.ndarray],
    *,
    style: np.ndarray | None = None,
    flow: str | None = None,
    backbone: str = "vgg19",
    backbone_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`evaluate` frame by frame, plus the flicker of ``processed`` along ``original``'s motion.

    A styled clip can keep every frame's structure and colors and still flicker, so beside
    the per-frame means of ``kl``, ``ssim`` (and ``gram_distance`` with ``style``) this gives
    ``temporal_error``: the mean over consecutive pairs of
    :func:`nst_engine.metrics.temporal.temporal_error` (Ruder et al. 2016) with ``flow``
    estimated on the original frames. ``per_frame`` holds each frame's figures (its
    ``temporal_error`` against the frame before; ``None`` for frame 0). Original frames are
    compared at the processed frames' size (a video run usually styles at a smaller one).
    Frames are read one pair at a time (a :class:`~nst_engine.video.frame_reading.Frames`
    clip never sits in memory whole); ``style`` adds a second pass over ``processed``.
    """
    from .video.flow import DEFAULT_FLOW, FLOW_METHODS  # OpenCV: only for clips

    flow = check_choice("flow", flow or DEFAULT_FLOW, FLOW_METHODS)
    if len(original) != len(processed):
        raise ImageError(f"the original has {len(original)} frames but the processed clip {len(processed)}: "
                         "compare a clip with all of its processed frames")
    if len(original) < 2:
        raise ImageError(f"a clip needs at least 2 frames to measure flicker; got {len(original)}: "
                         "compare single images with evaluate()")
    per_frame: list[dict[str, Any]] = []
    previous: tuple[np.ndarray, np.ndarray] | None = None
    settings: dict[str, Any] = {}
    for index in range(len(original)):
        result = split_image(processed[index], what=f"processed frame {index}")[0]
        source = resize_to(split_image(original[index], what=f"original frame {index}")[0], result.shape[:2])
        figures = evaluate(source, result)
        settings = figures["kl_settings"]
        record = {"frame": index, "ssim": figures["ssim"], "kl": figures["kl"], "temporal_error": None}
        if previous is not None:
            record["temporal_error"] = temporal_error([previous[1], result], [previous[0], source],
                                                      method=flow).per_frame[0]
        per_frame.append(record)
        previous = source, result
    pairs = [record["temporal_error"] for record in per_frame[1:]]
    out: dict[str, Any] = {
        "frames": len(per_frame),
        "temporal_error": float(np.mean(pairs)),
        "flow": flow,
        "kl": {name: float(np.mean([r["kl"][name] for r in per_frame])) for name in per_frame[0]["kl"]},
        "kl_settings": settings,
        "ssim": float(np.mean([r["ssim"] for r in per_frame])),
    }
    if style is not None:
        from .metrics.gram import gram_distances  # torch, only when a style is given

        distances = gram_distances(processed, style, backbone=backbone, backbone_options=backbone_options)
        for record, distance in zip(per_frame, distances):
            record["gram_distance"] = distance
        out["gram_distance"] = float(np.mean(distances))
        out["gram_backbone"] = backbone
    out["per_frame"] = per_frame
    return out
