"""The coarse-to-fine schedule: image sizes per scale and iterations per scale."""

from __future__ import annotations

__all__ = ["scale_shapes", "split_steps", "style_shape", "MIN_SIDE"]

#: Coarser scales whose shorter side would fall below this are skipped: deep VGG layers
#: (four poolings) need at least this much image to say anything about style.
MIN_SIDE = 64


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


def split_steps(steps: int, parts: int) -> list[int]:
    """``steps`` iterations spread evenly over ``parts`` scales, the remainder to the finest."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    base, extra = divmod(steps, parts)
    return [base + (1 if i >= parts - extra else 0) for i in range(parts)]


def style_shape(style_hw: tuple[int, int], content_shape: tuple[int, int], style_scale: float) -> tuple[int, int]:
    """A style image's shape at a scale: its longer side the content's times ``style_scale``."""
    h, w = style_hw
    factor = max(content_shape) * style_scale / max(h, w)
    return max(1, round(h * factor)), max(1, round(w * factor))
