"""Classical color transfers: recolour a source image with a reference image's colors.

Every transfer is ``fn(source, reference, *, options) -> image`` with keyword-only, typed
options (the signature is the option schema), optional statistics masks, alpha passed
through, and the source's dtype and shape kept. See ``docs/color.md``; :func:`rgb_transfer`
gives a plugin's float32 RGB core the same contract (``docs/plugins.md``).
"""

from .contract import rgb_transfer

#: Each transfer's module, imported on first use: a plugin that imports ``rgb_transfer`` (and
#: ``nst --help``, which loads plugins) does not pay for scipy.stats and scikit-image.
_TRANSFERS = {
    "histogram": "matching", "idt": "iterative", "cholesky": "linear", "mkl": "linear", "pca": "linear",
    "luminance": "moments", "mean_std": "moments", "reinhard": "moments", "regrain": "grain",
}


def __getattr__(name: str):
    if name in _TRANSFERS:
        import importlib

        return getattr(importlib.import_module(f".{_TRANSFERS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
