"""File > Open Sample: a photo to stylise and a style image, from ``skimage.data`` (no download)."""

from __future__ import annotations

from typing import Any

from nst_engine.samples import sample_image

__all__ = ["sample_pair", "sample_content", "sample_style"]

LayerData = tuple[Any, dict[str, Any], str]


def sample_content() -> list[LayerData]:
    """Chelsea the cat (scikit-image), the content image."""
    return [(sample_image("chelsea"), {"name": "chelsea (content)", "rgb": True}, "image")]


def sample_style() -> list[LayerData]:
    """An immunohistochemistry micrograph (scikit-image): strong colors and texture."""
    return [(sample_image("immunohistochemistry"), {"name": "immunohistochemistry (style)", "rgb": True}, "image")]


def sample_pair() -> list[LayerData]:
    """Both: what the Style Transfer widget needs to run at once."""
    return sample_content() + sample_style()
