"""``check_color_transfer``: the contract of ``register_color_transfers``, exercised."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ._common import (
    _REFERENCE_HW,
    _SELF_TOLERANCE,
    _SOURCE_HW,
    _bind,
    _entry,
    _expect,
    _label,
)

if TYPE_CHECKING:
    import numpy as np

    from ..entries import Entry


def _halves(shape: tuple[int, int], left: tuple, right: tuple, seed: int) -> np.ndarray:
    """A float64 RGB image in [0, 1] whose halves differ in color, so masks make a difference."""
    import numpy as np

    h, w = shape
    image = np.empty((h, w, 3))
    image[:, : w // 2], image[:, w // 2 :] = left, right
    return np.clip(image + np.random.default_rng(seed).uniform(-0.2, 0.2, image.shape), 0.0, 1.0)


def _as(unit: np.ndarray, dtype: Any) -> np.ndarray:
    import numpy as np

    from ..images import to_uint

    return to_uint(unit, dtype) if np.issubdtype(dtype, np.unsignedinteger) else unit.astype(dtype)



def _transfer(entry: Entry, options: dict, label: str, case: str, source: np.ndarray,
              reference: np.ndarray, **masks: np.ndarray) -> np.ndarray:
    """One call on read-only inputs, with the result checked against the contract."""
    import numpy as np

    from ..images import read_only

    kept = [source.copy(), reference.copy(), *(m.copy() for m in masks.values())]
    doing = f"given a {case} (source {source.dtype} {source.shape}, reference {reference.shape})"
    try:
        result = entry.factory(read_only(source), read_only(reference),
                               **{k: read_only(m) for k, m in masks.items()}, **options)
    except ValueError as exc:
        if "read-only" in str(exc):
            raise AssertionError(
                f"{label} writes into its input {doing}: work on a copy, e.g. "
                "np.array(source, dtype=np.float32); callers' arrays are passed read-only") from exc
        raise AssertionError(f"{label} raised ValueError: {exc} when {doing}") from exc
    except Exception as exc:
        raise AssertionError(f"{label} raised {type(exc).__name__}: {exc} when {doing}") from exc
    _expect(isinstance(result, np.ndarray), label, f"returned {type(result).__name__} {doing}; return a numpy array")
    _expect(result.shape == source.shape and result.dtype == source.dtype, label,
            f"returned {result.dtype} {result.shape} {doing}: keep the source's shape and dtype")
    if np.issubdtype(result.dtype, np.floating):
        _expect(bool(np.isfinite(result).all()), label, f"returned NaN or Inf {doing}")
        _expect(bool(result.min() >= 0 and result.max() <= 1), label,
                f"returned float values in [{result.min():g}, {result.max():g}] {doing}: clip them to [0, 1]")
    for before, after in zip(kept, [source, reference, *masks.values()]):
        _expect(np.array_equal(before, after), label, f"modified an input array {doing}: work on a copy")
    return result


def check_color_transfer(transfer: str | Callable[..., Any], /, **options: Any) -> None:
    """Check a color transfer against the contract of ``register_color_transfers``.

    Uint8, uint16, float32 and float64 RGB inputs keep their shape and dtype; results are
    finite and floats stay in [0, 1]; inputs are read-only and left untouched; equal inputs
    give equal results; an image recoloured with itself stays close to itself; RGBA alpha
    comes back bit-identical; gray ``H×W`` is handled or refused with ``ImageError``;
    ``source_mask`` / ``reference_mask``, when taken, select the statistics' pixels.

    Parameters
    ----------
    transfer
        A registered name (``"sliced-ot"``) or the function a plugin registers.
    **options
        Options to check with (default: the schema's defaults), validated by the schema.
    """
    import numpy as np

    from ..errors import ImageError
    from ..images import to_unit_float

    entry = _entry("color_transfers", transfer)
    label = _label(entry)
    bound = _bind(entry, options)
    src = _halves(_SOURCE_HW, (0.7, 0.3, 0.2), (0.2, 0.3, 0.7), seed=1)
    ref = _halves(_REFERENCE_HW, (0.2, 0.6, 0.3), (0.8, 0.8, 0.2), seed=2)
    for dtype in (np.uint8, np.uint16, np.float64, np.float32):
        source, reference = _as(src, dtype), _as(ref, dtype)
        first = _transfer(entry, bound, label, f"{np.dtype(dtype)} RGB image", source, reference)
    again = _transfer(entry, bound, label, "float32 RGB image", source.copy(), reference.copy())
    _expect(np.array_equal(first, again), label, "gave different results for equal inputs: seed any randomness")
    itself = _transfer(entry, bound, label, "float32 RGB image and itself", source, source.copy())
    change = float(np.abs(itself - source).mean())
    _expect(change <= _SELF_TOLERANCE, label, f"changed an image recoloured with its own colors by {change:.3g} "
            f"on average (at most {_SELF_TOLERANCE} expected): a transfer should be near identity then")

    alpha = np.random.default_rng(3).integers(0, 256, _SOURCE_HW, dtype=np.uint8)
    alpha[:2] = 0
    rgba = np.concatenate([_as(src, np.uint8), alpha[..., None]], axis=-1)
    out = _transfer(entry, bound, label, "uint8 RGBA image", rgba, _as(ref, np.uint8))
    _expect(np.array_equal(out[..., 3], alpha), label, "changed the alpha channel: return it unchanged")

    gray = to_unit_float(_as(src, np.uint8)).mean(axis=-1).astype(np.float32)
    try:
        _transfer(entry, bound, label, "float32 gray H×W image", gray, reference)
    except AssertionError as exc:
        if not isinstance(exc.__cause__, ImageError):  # refusing gray with ImageError is fine
            raise
    _check_masks(entry, bound, label, source, reference, first)


def _check_masks(entry: Entry, options: dict, label: str, source: np.ndarray, reference: np.ndarray,
                 plain: np.ndarray) -> None:
    import numpy as np

    taken = [m for m in ("source_mask", "reference_mask") if m in entry.arrays]
    for name in taken:
        shape = (source if name == "source_mask" else reference).shape[:2]
        full, half = np.ones(shape, bool), np.zeros(shape, bool)
        half[:, : shape[1] // 2] = True
        every = _transfer(entry, options, label, f"{name} selecting every pixel", source, reference, **{name: full})
        _expect(bool(np.allclose(every, plain, atol=1e-5)), label,
                f"gave a different result with a {name} that selects every pixel than without one")
        masked = _transfer(entry, options, label, f"{name} selecting the left half", source, reference, **{name: half})
        # A setting that leaves the image as it is (strength=0) has no statistics to move:
        # only a transfer that changes the image must change with the mask.
        if not np.allclose(plain, source, atol=1e-3):
            _expect(not np.allclose(masked, plain, atol=1e-3), label,
                    f"takes {name} but ignores it: its statistics must come from the selected pixels only")
