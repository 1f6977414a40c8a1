"""Maximum mean discrepancy style losses (Li, Wang, Liu & Hou 2017, "Demystifying neural style
transfer"): style transfer as matching the distribution of feature vectors.

With the features of the generated image ``f_i`` and of the style ``s_j`` (C-dim vectors over
pixels), ``MMD² = E k(f, f') + E k(s, s') − 2 E k(f, s)``. For the linear kernel ``x·y`` this
is ``‖μ_f − μ_s‖²``; for the polynomial kernel ``(x·y + c)²`` it is
``‖G_f − G_s‖²_F + 2c ‖μ_f − μ_s‖²`` with ``G = FᵀF/M`` — computed in these closed forms, exact
and as cheap as a Gram loss (the paper's observation that Gram matching is MMD with a
second-order polynomial kernel). The Gaussian kernel has no closed form: it is estimated on
``samples`` random pixels per layer, redrawn every step from a seeded generator.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch

from . import functional as LF
from .terms import LayerLoss, LayerWeights, Layers

__all__ = ["MMDLoss"]


def _pixels(features: torch.Tensor) -> torch.Tensor:
    n, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(n * h * w, c)


class MMDLoss(LayerLoss):
    """MMD between feature distributions, linear / polynomial / Gaussian kernel (Li et al. 2017).

    Parameters
    ----------
    kernel
        linear matches feature means, polynomial (the default) matches Gram matrices, gaussian all moments.
    seed
        Seeds the pixels the Gaussian kernel samples each step.
    """

    role = "style"

    def __init__(
        self,
        *,
        kernel: Literal["linear", "polynomial", "gaussian"] = "polynomial",
        offset: Annotated[float, {"min": 0.0, "tooltip": "c in (x·y + c)² (polynomial kernel)"}] = 0.0,
        samples: Annotated[int, {"min": 16, "max": 16384, "tooltip": "pixels per layer (Gaussian kernel)"}] = 1024,
        seed: int = 0,
        layers: Layers = None,
        layer_weights: LayerWeights = None,
    ) -> None:
        super().__init__(layers=layers, layer_weights=layer_weights)
        self.kernel, self.offset, self.samples = kernel, offset, samples
        self.generator = torch.Generator().manual_seed(seed)

    def statistic(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
        if self.kernel == "gaussian":
            return self._sample(features, mask)
        mean, _ = LF.mean_std(features, mask)
        gram = LF.gram_matrix(features, mask) * features.shape[1] if self.kernel == "polynomial" else None
        return mean, gram

    def _sample(self, features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        pixels = _pixels(features)
        weights = mask.flatten().to("cpu") if mask is not None else torch.ones(pixels.shape[0])
        count = min(self.samples, int((weights > 0).sum()))
        index = torch.multinomial(weights, count, replacement=False, generator=self.generator)
        return pixels[index.to(pixels.device)]

    def compare(self, statistic: Any, target: Any) -> torch.Tensor:
        if self.kernel == "gaussian":
            return _gaussian_mmd(statistic, target)
        mean, gram = statistic
        distance = (mean - target[0]).pow(2).sum()
        if self.kernel == "linear":
            return distance
        return (gram - target[1]).pow(2).sum() + 2 * self.offset * distance


def _gaussian_mmd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Biased MMD² estimate, bandwidth from the median heuristic on the style sample."""
    with torch.no_grad():
        sigma2 = torch.cdist(y, y).pow(2).median().clamp_min(1e-6)

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * sigma2)).mean()

    return k(x, x) + k(y, y) - 2 * k(x, y)
