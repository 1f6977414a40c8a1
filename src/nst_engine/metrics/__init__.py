"""Evaluation metrics: color fidelity (per-channel KL of KDEs) and structure (SSIM)."""

from .kl import KLResult, kde_on_grid, kl_divergence
from .ssim import ssim

__all__ = ["KLResult", "kl_divergence", "kde_on_grid", "ssim"]
