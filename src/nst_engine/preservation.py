"""Keeping the content's colors through style transfer (Gatys et al. 2017, "Preserving color").

Modes, as the pipeline's ``color`` option takes them:

- ``"none"``: the result takes the style's colors.
- ``"luminance"``: style transfer in luminance only. Content and style become their YIQ
  luminance (the style's matched to the content's mean and std first, as the paper does);
  the result's luminance is then combined with the content's I and Q chroma.
- ``"before:<transfer>"``: the style image is recoloured with the content's colors by any
  registered color transfer before the run.
- ``"after:<transfer>"``: the result is recoloured with the content's colors afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from skimage.transform import resize

from .plugins import get_entry
from .color.spaces import rgb_to_yiq, yiq_to_rgb
from .errors import OptionError
from .transfers import call_color_transfer

__all__ = ["ColorPreservation", "parse_color_mode"]


def parse_color_mode(mode: str) -> tuple[str, str | None]:
    """``"after:histogram"`` -> ``("after", "histogram")``; errors name the accepted forms."""
    when, _, transfer = mode.partition(":")
    if when in ("none", "luminance") and not transfer:
        return when, None
    if when in ("before", "after") and transfer:
        get_entry("color_transfers", transfer)
        return when, transfer
    raise OptionError(
        f"color must be none, luminance, before:<transfer> or after:<transfer>; got {mode!r}", option="color"
    )


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_yiq(rgb)[..., 0]


def _gray3(luma: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(luma, 0.0, 1.0)[..., None], 3, axis=-1).astype(np.float32)


@dataclass
class ColorPreservation:
    """One run's color handling: ``prepare`` the inputs, ``finish`` every image shown."""

    mode: str = "none"
    options: Mapping[str, Any] = field(default_factory=dict)
    _when: str = field(init=False)
    _transfer: Callable[..., np.ndarray] | None = field(init=False, default=None)
    _chroma: np.ndarray | None = field(init=False, default=None)
    _content: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._when, name = parse_color_mode(self.mode)
        if name is not None:
            entry = get_entry("color_transfers", name)
            bound = entry.bind(dict(self.options))
            self._transfer = lambda source, reference: call_color_transfer(entry, source, reference, bound)
            self.plugin = {"name": name, "plugin": entry.plugin, "version": entry.plugin_version, "options": bound}
        elif self.options:
            raise OptionError(f"color options were given but color={self.mode!r} takes none", option="color_options")
        else:
            self.plugin = None

    def prepare(self, content: np.ndarray, styles: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The images the optimisation sees, from float RGB content and style images."""
        self._content = content
        if self._when == "luminance":
            yiq = rgb_to_yiq(content)
            self._chroma = yiq[..., 1:]
            content_y = yiq[..., 0]
            return _gray3(content_y), [_gray3(self._match_luminance(_luminance(s), content_y)) for s in styles]
        if self._when == "before":
            return content, [np.clip(self._transfer(s, content), 0.0, 1.0).astype(np.float32) for s in styles]
        return content, styles

    @staticmethod
    def _match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
        """The style's luminance with the content's mean and std, as Gatys et al. do."""
        return (style_y - style_y.mean()) * (content_y.std() / max(style_y.std(), 1e-6)) + content_y.mean()

    def finish(self, image: np.ndarray) -> np.ndarray:
        """The image a user sees, from the optimised one (any scale of the schedule)."""
        if self._when == "luminance":
            chroma = self._chroma
            if chroma.shape[:2] != image.shape[:2]:  # a coarse scale's preview
                chroma = resize(chroma, image.shape[:2] + (2,), order=1, anti_aliasing=True)
            yiq = np.concatenate([image.mean(axis=-1, keepdims=True), chroma], axis=-1)
            return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)
        if self._when == "after":
            return np.clip(self._transfer(image, self._content), 0.0, 1.0).astype(np.float32)
        return image

    def describe(self) -> dict:
        return {"mode": self.mode, "transfer": self.plugin}
