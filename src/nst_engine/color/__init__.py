"""Classical color transfers: recolour a source image with a reference image's colors.

Every transfer is ``fn(source, reference, *, options) -> image`` with keyword-only, typed
options (the signature is the option schema), optional statistics masks, alpha passed
through, and the source's dtype and shape kept. See ``docs/color.md``; :func:`rgb_transfer`
gives a plugin's float32 RGB core the same contract (``docs/plugins.md``).
"""

from .contract import rgb_transfer
from .matching import histogram
from .iterative import idt
from .linear import cholesky, mkl, pca
from .moments import luminance, mean_std, reinhard
from .grain import regrain

__all__ = [
    "reinhard",
    "mean_std",
    "luminance",
    "histogram",
    "idt",
    "regrain",
    "mkl",
    "cholesky",
    "pca",
    "rgb_transfer",
]
