"""One call for the figures the seeds report: KL per channel, SSIM, Gram distance."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .metrics.kl import kl_divergence
from .metrics.ssim import ssim

__all__ = ["evaluate"]


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
