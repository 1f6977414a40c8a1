"""Loss functions on feature tensors of shape ``(N, C, H, W)``; pure torch, no state."""

from __future__ import annotations

import torch

__all__ = ["gram_matrix", "gram_loss", "content_loss", "mean_std", "mean_std_loss", "total_variation"]


class _SymmetricProduct(torch.autograd.Function):
    """``Xᵀ X`` whose backward is one matmul, ``X (dG + dGᵀ)``, where autograd would do two.

    Measured: the Gram matrices' backward was the largest engine cost above the network's own
    forward and backward (benchmarks/bench_engine.py).
    """

    @staticmethod
    def forward(ctx, flat: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(flat)
        return torch.bmm(flat.transpose(1, 2), flat)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (flat,) = ctx.saved_tensors
        return torch.bmm(flat, grad + grad.transpose(1, 2))


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``F Fᵀ / (C·HW)`` per batch item, ``F`` the ``C × HW`` feature matrix.

    Dividing by ``C·M`` here (``M = H·W``) keeps the entries near the features' scale;
    :func:`gram_loss` then equals Gatys et al.'s ``1/(4N²M²) Σ (G - A)²`` exactly. The pixels
    are taken as rows (``HW × C``), which is a free view of channels-last activations.
    """
    n, c, h, w = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
    return _SymmetricProduct.apply(flat) / (c * h * w)


def gram_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gatys et al. 2016, eq. 4: ``1/(4N²M²) Σ (G - A)²`` with normalised Gram matrices."""
    return 0.25 * (gram - target).pow(2).sum(dim=(1, 2)).mean()


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference (Gatys et al.'s eq. 1, averaged so sizes compare)."""
    return (features - target).pow(2).mean()


def mean_std(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over the image plane."""
    flat = features.flatten(2)
    mean = flat.mean(dim=2)
    std = (flat.var(dim=2, unbiased=False) + eps).sqrt()
    return mean, std


def mean_std_loss(
    statistic: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Li et al. 2017 ("Demystifying neural style transfer"): the BN-statistics loss."""
    return (statistic[0] - target[0]).pow(2).mean() + (statistic[1] - target[1]).pow(2).mean()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels: smooth, so L-BFGS handles it well."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()
