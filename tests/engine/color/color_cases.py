"""Transfer variants under test and a photo-like image generator, shared by the color tests."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from nst_engine import color

#: Registry name -> (function, options) for every transfer variant under test.
TRANSFERS = {
    "reinhard": (color.reinhard, {}),
    "reinhard-cielab": (color.reinhard, {"space": "cielab"}),
    "mean-std": (color.mean_std, {}),
    "luminance": (color.luminance, {}),
    "luminance-histogram": (color.luminance, {"match": "histogram"}),
    "histogram": (color.histogram, {}),
    "histogram-lab": (color.histogram, {"space": "lab-alpha-beta"}),
    "histogram-exact": (color.histogram, {"exact": True}),
    "idt": (color.idt, {"iterations": 4}),
    "idt-regrain": (color.idt, {"iterations": 4, "regrain": True}),
    "mkl": (color.mkl, {}),
    "mkl-lab": (color.mkl, {"space": "lab-alpha-beta"}),
    "cholesky": (color.cholesky, {}),
    "pca": (color.pca, {}),
}

#: Variants whose result at a pixel depends on its neighbours, not on its color alone.
SPATIAL = ("idt-regrain", "histogram-exact")


def run(name: str, source: np.ndarray, reference: np.ndarray, **extra) -> np.ndarray:
    fn, options = TRANSFERS[name]
    return fn(source, reference, **options, **extra)


def smooth_image(
    rng: np.random.Generator, height: int, width: int, *, spread: float = 0.25
) -> np.ndarray:
    """A photo-like float32 RGB image: smooth, correlated channels, a little noise."""
    base = gaussian_filter(rng.normal(size=(height, width, 3)), sigma=(3, 3, 0))
    base /= base.std() + 1e-12
    mix = np.array([[1.0, 0.6, 0.3], [0.2, 1.0, 0.5], [0.1, 0.4, 1.0]])
    image = 0.5 + spread * (base @ mix.T) / 2.5 + rng.normal(scale=0.01, size=(height, width, 3))
    return np.clip(image, 0, 1).astype(np.float32)
