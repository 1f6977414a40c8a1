"""``rgb_transfer``: a plugin's float32 RGB core gets the whole color-transfer contract."""

from __future__ import annotations

import inspect
from typing import Annotated

import numpy as np
import pytest

from nst_engine.color import rgb_transfer
from nst_engine.errors import ImageError
from nst_engine.testing import check_color_transfer

SEEN: dict = {}


@rgb_transfer
def shift(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    strength: Annotated[float, {"min": 0.0, "max": 1.0}] = 1.0,
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Move the source's mean color to the reference's."""
    SEEN.update(source=source, reference=reference, source_mask=source_mask, reference_mask=reference_mask)
    src = source.reshape(-1, 3) if source_mask is None else source[source_mask]
    ref = reference.reshape(-1, 3) if reference_mask is None else reference[reference_mask]
    return source + strength * (ref.mean(0) - src.mean(0))


@rgb_transfer
def no_masks(source: np.ndarray, reference: np.ndarray, *, gain: float = 1.0) -> np.ndarray:
    return source * gain


def test_the_signature_is_the_cores_option_schema():
    assert list(inspect.signature(shift).parameters) == [
        "source", "reference", "strength", "source_mask", "reference_mask"]
    assert shift.__doc__.startswith("Move the source's mean color")


def test_the_core_sees_read_only_float32_rgb_and_bool_selections(rng):
    rgba = rng.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0
    gray = rng.integers(0, 65536, (5, 4), dtype=np.uint16)
    mask = np.zeros((6, 7), np.int32)
    mask[:3] = 2
    out = shift(rgba, gray, source_mask=mask)
    assert SEEN["source"].dtype == np.float32 and SEEN["source"].shape == (6, 7, 3)
    assert not SEEN["source"].flags.writeable
    assert SEEN["reference"].shape == (5, 4, 3)  # gray replicated
    assert SEEN["source_mask"].dtype == bool
    np.testing.assert_array_equal(SEEN["source_mask"], (mask != 0) & (rgba[..., 3] != 0))
    assert SEEN["reference_mask"] is None
    assert out.dtype == np.uint8 and out.shape == rgba.shape
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float16, np.float64])
def test_dtype_and_gray_shape_come_back(dtype, rng):
    image = rng.random((5, 6))
    image = (image * 255).astype(dtype) if np.issubdtype(dtype, np.integer) else image.astype(dtype)
    out = shift(image, np.full((3, 3, 3), 0.5))
    assert out.dtype == np.dtype(dtype) and out.shape == image.shape


def test_results_are_clipped_and_must_be_finite(rng):
    image = rng.random((4, 4, 3))
    assert no_masks(image, image, gain=5.0).max() == 1.0
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        no_masks(image, image, gain=np.nan)


def test_bad_inputs_are_refused_with_the_contracts_errors(rng):
    image = rng.random((4, 4, 3))
    with pytest.raises(ImageError, match="selects no pixel"):
        shift(image, image, source_mask=np.zeros((4, 4), bool))
    with pytest.raises(ImageError, match="expected H×W"):
        shift(np.zeros((4, 4, 5)), image)
    with pytest.raises(TypeError, match="source_mask"):
        no_masks(image, image, source_mask=np.ones((4, 4), bool))


def test_a_decorated_core_passes_the_conformance_check():
    check_color_transfer(shift)
    check_color_transfer(shift, strength=0.0)  # an identity setting
    check_color_transfer(no_masks)
