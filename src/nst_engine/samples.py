"""Bundled sample images, from scikit-image's wheel: no download."""

from __future__ import annotations

import numpy as np
from skimage import data

__all__ = ["SAMPLES", "sample_image", "sample_pair"]

#: Name -> loader. A photo to stylise and images whose colors and textures make good styles.
SAMPLES = {
    "chelsea": data.chelsea,
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "immunohistochemistry": data.immunohistochemistry,
    "hubble_deep_field": data.hubble_deep_field,
    "rocket": data.rocket,
}


def sample_image(name: str) -> np.ndarray:
    """One bundled sample by name (see :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise KeyError(f"no sample named {name!r}; samples: {', '.join(SAMPLES)}")
    return SAMPLES[name]()


def sample_pair() -> tuple[np.ndarray, np.ndarray]:
    """The default (content, style) pair: a cat photo and a stained tissue micrograph."""
    return sample_image("chelsea"), sample_image("immunohistochemistry")
