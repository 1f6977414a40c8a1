"""The coarse-to-fine schedule: image sizes per scale and iterations per scale (no torch, no numpy)."""

from __future__ import annotations

from .errors import ImageError

__all__ = ["max_side_shape", "scale_shapes", "split_steps", "style_shape", "MIN_SIDE", "COARSE_RATIO"]

#: Coarser scales whose shorter side would fall below this are skipped: deep VGG layers
#: (four poolings) need at least this much image to say anything about style.
MIN_SIDE = 64

#: Each scale gets this many times the steps of the next finer one (see :func:`split_steps`).
COARSE_RATIO = 2.0


def scale_shapes(shape: tuple[int, int], scales: int, *, min_side: int = MIN_SIDE) -> list[tuple[int, int]]:
    """Shapes from coarse to fine, each side halving per scale; the last is ``shape`` itself.

    Progressive refinement (as in Gatys et al. 2017 "Controlling perceptual factors"): coarse
    scales fix the large structures cheaply, fine scales add detail.
    """
    if scales < 1:
        raise ValueError(f"scales must be at least 1; got {scales}")
    h, w = shape
    out = [(h, w)]
    for level in range(1, scales):
        factor = 2**level
        coarse = (max(1, round(h / factor)), max(1, round(w / factor)))
        if min(coarse) < min_side:
            break
        out.append(coarse)
    return out[::-1]


def split_steps(steps: int, parts: int, *, coarse_ratio: float = COARSE_RATIO) -> list[int]:
    """``steps`` iterations over ``parts`` scales, coarse to fine, each scale ``coarse_ratio``
    times the next finer one's; rounding goes to the coarsest, where a step is cheapest.

    A scale's step costs about a quarter of the next finer one's (half the side), and the
    coarse scales fix the large structures the fine ones then only refine, so most steps go
    where they are cheap (measured in docs/performance.md, "Convergence"). ``coarse_ratio=1``
    splits evenly.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    shares = [coarse_ratio ** (parts - 1 - i) for i in range(parts)]
    out = [int(steps * share / sum(shares)) for share in shares]
    out[0] += steps - sum(out)
    return out


def style_shape(style_hw: tuple[int, int], content_shape: tuple[int, int], style_scale: float) -> tuple[int, int]:
    """A style image's shape at a scale: its longer side the content's times ``style_scale``."""
    h, w = style_hw
    factor = max(content_shape) * style_scale / max(h, w)
    return max(1, round(h * factor)), max(1, round(w * factor))


def max_side_shape(shape: tuple[int, ...], size: int | None) -> tuple[int, int]:
    """Height and width with the longer side at ``size`` pixels (aspect kept, rounded).

    The one rounding rule: the run plan, :func:`resize_max_side` and the napari result layer
    (made at its final shape before the first preview) all use it. ``None`` keeps the shape.
    """
    h, w = int(shape[0]), int(shape[1])
    if size is None:
        return h, w
    if size < 1:
        raise ImageError(f"size must be a positive number of pixels; got {size}")
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))
