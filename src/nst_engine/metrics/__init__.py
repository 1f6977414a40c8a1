"""Evaluation metrics: color fidelity (per-channel KL of KDEs), structure (SSIM) and style
closeness (Gram-matrix distance)."""

from typing import Any

from .kl import KLResult, kde_on_grid, kl_divergence
from .ssim import ssim

__all__ = ["KLResult", "kl_divergence", "kde_on_grid", "ssim", "gram_distance"]


def __getattr__(name: str) -> Any:
    # gram_distance needs torch; import it on first use so KL and SSIM stay numpy-only.
    if name == "gram_distance":
        from .gram import gram_distance

        return gram_distance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
