"""``rgb_transfer``: the color-transfer contract around a plugin's float32 RGB core.

A transfer registered through ``register_color_transfers`` must take any image the engine
takes and give it back in kind (``docs/color.md``, *The contract every transfer keeps*).
All of that is the same for every algorithm, so it is written once here: a plugin writes
only the core on float32 RGB in [0, 1] and decorates it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import numpy as np

from ._io import recolor_images

__all__ = ["rgb_transfer"]

_MASKS = ("source_mask", "reference_mask")


def rgb_transfer(core: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Turn ``core(source_rgb, reference_rgb, *, source_mask, reference_mask, **options)``
    into a full color transfer with the same signature (so the same option schema).

    The core gets read-only ``H×W×3`` float32 images in [0, 1] (a gray image replicated to
    three channels, alpha removed) and, if its signature names them, the masks as ``H×W``
    bool arrays that already leave out fully transparent pixels, or None for every pixel.
    It returns the recoloured ``H×W×3`` source as floats (clipped to [0, 1] here; NaN or
    Inf is an error). The transfer accepts every dtype and layout of the contract, returns
    the source's shape and dtype (gray reduced by Rec.601 luma, alpha bit-identical), and
    refuses bad images and masks with ``ImageError``.

    Examples
    --------
    >>> @rgb_transfer
    ... def invert(source, reference, *, strength: float = 1.0):
    ...     return source + strength * (1 - 2 * source)
    """
    taken = [name for name in _MASKS if name in inspect.signature(core).parameters]

    @functools.wraps(core)
    def transfer(
        source: np.ndarray,
        reference: np.ndarray,
        *,
        source_mask: np.ndarray | None = None,
        reference_mask: np.ndarray | None = None,
        **options: Any,
    ) -> np.ndarray:
        given = {"source_mask": source_mask, "reference_mask": reference_mask}
        for name, mask in given.items():
            if mask is not None and name not in taken:
                raise TypeError(f"{core.__name__}() got an unexpected keyword argument {name!r}")

        def run(src: np.ndarray, ref: np.ndarray, select: np.ndarray | None,
                ref_select: np.ndarray | None) -> np.ndarray:
            selections = {"source_mask": select, "reference_mask": ref_select}
            return core(src, ref, **{name: selections[name] for name in taken}, **options)

        return recolor_images(source, reference, source_mask, reference_mask, run)

    return transfer
