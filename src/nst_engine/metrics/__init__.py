"""Evaluation metrics: color fidelity (per-channel KL of KDEs), structure (SSIM) and style
closeness (Gram-matrix distance)."""

from typing import Any

from .kl import KLResult, channel_densities, kde_on_grid, kl_divergence
from .ssim import ssim

__all__ = ["KLResult", "kl_divergence", "kde_on_grid", "channel_densities", "ssim", "gram_distance", "gram_distances"]


def __getattr__(name: str) -> Any:
    # The Gram distances need torch; import them on first use so KL and SSIM stay numpy-only.
    if name in ("gram_distance", "gram_distances"):
        from . import gram

        return getattr(gram, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
