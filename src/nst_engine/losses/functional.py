"""Loss functions on feature tensors of shape ``(N, C, H, W)``; pure torch, no state."""

from __future__ import annotations

import torch

__all__ = ["gram_matrix", "gram_loss", "content_loss", "mean_std", "mean_std_loss", "total_variation",
           "gram_sums", "gram_from_sums", "content_sums", "moment_sums", "mean_std_from_sums", "variation_sums"]


class _SymmetricProduct(torch.autograd.Function):
    """``Fᵀ F`` of the pixels-by-channels matrix ``F`` of ``(N, C, H, W)`` features.

    Its backward is one matmul, ``F (dG + dGᵀ)``, where autograd would do two, and it returns
    a fresh tensor in the features' own layout rather than a view of one: autograd then adds
    the backbone's gradient for the same activation into it in place. A view cannot be added
    into; the out-of-place sum of two activation-sized tensors cost ~6 % of a VGG-19 step at
    256² (benchmarks/bench_engine.py).
    """

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(features)
        flat = _pixel_rows(features)
        return torch.bmm(flat.transpose(1, 2), flat)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (features,) = ctx.saved_tensors
        symmetric = grad + grad.transpose(1, 2)
        if features.is_contiguous(memory_format=torch.channels_last):
            out = torch.empty_like(features, memory_format=torch.channels_last)
            torch.bmm(_pixel_rows(features), symmetric, out=_pixel_rows(out))  # a view of ``out``
            return out
        n, c, h, w = features.shape
        return torch.bmm(_pixel_rows(features), symmetric).view(n, h, w, c).permute(0, 3, 1, 2).contiguous()


def _pixel_rows(features: torch.Tensor) -> torch.Tensor:
    """The ``N × M × C`` matrix of pixels by channels: a free view of channels-last features."""
    n, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(n, h * w, c)


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``F Fᵀ / (C·M)`` per batch item, ``F`` the ``C × M`` feature matrix (``M = H·W``).

    Dividing by ``C·M`` here keeps the entries near the features' scale; :func:`gram_loss`
    then equals Gatys et al.'s ``1/(4N²M²) Σ (G - A)²`` exactly. The pixels are taken as rows
    (``M × C``), which is a free view of channels-last activations. A ``mask`` (N×1×H×W in
    [0, 1]) weights each pixel, and ``M`` becomes the mask's sum: the statistics of a region.
    """
    n, c, h, w = features.shape
    if mask is not None:
        features = features * mask.sqrt()
        pixels = mask.sum(dim=(1, 2, 3)).clamp_min(1.0).view(n, 1, 1)
    else:
        pixels = h * w
    return _SymmetricProduct.apply(features) / (c * pixels)


def gram_loss(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gatys et al. 2016, eq. 4: ``1/(4N²M²) Σ (G - A)²`` with normalised Gram matrices."""
    return 0.25 * (gram - target).pow(2).sum(dim=(1, 2)).mean()


def content_loss(
    features: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared feature difference (Gatys et al.'s eq. 1, averaged so sizes compare).

    With a ``mask`` (N×1×H×W in [0, 1]) the mean is over the mask's region, pixels weighted.
    """
    squared = (features - target).pow(2)
    if mask is None:
        return squared.mean()
    return (squared * mask).sum() / (mask.sum() * features.shape[1]).clamp_min(1e-12)


def mean_std(
    features: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over the image plane (or a mask's region)."""
    flat = features.flatten(2)
    if mask is None:
        return flat.mean(dim=2), (flat.var(dim=2, unbiased=False) + eps).sqrt()
    weights = mask.flatten(2)
    total = weights.sum(dim=2).clamp_min(1.0)
    mean = (flat * weights).sum(dim=2) / total
    var = ((flat - mean[..., None]).pow(2) * weights).sum(dim=2) / total
    return mean, (var + eps).sqrt()


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


# Additive forms for tiling (nst_engine.tiling): each function below returns sums over a
# region's pixels that add up over regions to the whole image's, and the ``*_from_sums``
# give the whole image's statistic from their total, equal to the functions above.


def _weights(features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The region's pixel weight per batch item: the mask's sum, or the pixel count."""
    n, _, h, w = features.shape
    if mask is None:
        return torch.full((n,), float(h * w), device=features.device)
    return mask.sum(dim=(1, 2, 3))


def gram_sums(features: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(FᵀF, M)`` of a region: the unnormalised Gram matrix and its pixel weight."""
    weighted = features if mask is None else features * mask.sqrt()
    return _SymmetricProduct.apply(weighted), _weights(features, mask)


def gram_from_sums(product: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """:func:`gram_matrix` from the summed :func:`gram_sums`."""
    n, c, _ = product.shape
    return product / (c * pixels.clamp_min(1.0).view(n, 1, 1))


def content_sums(features: torch.Tensor, target: torch.Tensor,
                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The squared difference's sum over a region and its count (channels times pixel weight)."""
    squared = (features - target).pow(2)
    if mask is None:
        return squared.sum(), torch.tensor(float(squared.numel()), device=features.device)
    return (squared * mask).sum(), mask.sum() * features.shape[1]


def moment_sums(features: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """Per channel ``Σ w·f`` and ``Σ w·f²`` over a region, and its pixel weight ``Σ w``."""
    flat = features.flatten(2)
    if mask is not None:
        weights = mask.flatten(2)
        return (flat * weights).sum(dim=2), (flat.pow(2) * weights).sum(dim=2), weights.sum(dim=2)
    return flat.sum(dim=2), flat.pow(2).sum(dim=2), _weights(features, None)[:, None]


def mean_std_from_sums(first: torch.Tensor, second: torch.Tensor, pixels: torch.Tensor,
                       eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mean_std` from the summed :func:`moment_sums` (variance as E[f²] − E[f]²)."""
    total = pixels.clamp_min(1.0)
    mean = first / total
    var = (second / total - mean.pow(2)).clamp_min(0.0)
    return mean, (var + eps).sqrt()


def variation_sums(image: torch.Tensor, rows: slice, cols: slice) -> tuple[torch.Tensor, ...]:
    """:func:`total_variation`'s squared differences from the pixels of ``image[rows, cols]`` to
    their next neighbours, with their counts. The neighbour past the region's last row (column)
    is read from ``image`` when it has one there: inside an image, a tile's halo."""
    h, w = image.shape[-2:]
    below = min(rows.stop + 1, h)
    right = min(cols.stop + 1, w)
    dy = image[..., rows.start + 1 : below, cols] - image[..., rows.start : below - 1, cols]
    dx = image[..., rows, cols.start + 1 : right] - image[..., rows, cols.start : right - 1]
    count = image.new_tensor
    return dy.pow(2).sum(), count(float(dy.numel())), dx.pow(2).sum(), count(float(dx.numel()))
