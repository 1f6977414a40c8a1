"""The linear transfers to the last 8-bit level: identity on themselves, equal to their closed form.

The closed forms are written here again in float64 from the papers (scipy's ``sqrtm`` and
numpy's ``cholesky``), independently of ``color/_stats.py``, and on near-gray sources too,
whose small chroma variances are where float32 statistics and eigenvalue clamps went wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from color_cases import smooth_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.linalg import sqrtm
from skimage.color import lab2rgb, rgb2lab

from nst_engine import color

# Reinhard, Ashikhmin, Gooch & Shirley 2001, eq. (1) and (4); the LMS floor of docs/color.md.
_RGB_TO_LMS = np.array([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
_LOG_LMS_TO_LAB = np.diag([3**-0.5, 6**-0.5, 2**-0.5]) @ np.array([[1, 1, 1], [1, 1, -2], [1, -1, 0]])
_LMS_FLOOR, _LMS_MAX = 1e-3, 4.0
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.59590059, -0.27455667, -0.32134392],
                        [0.21153661, -0.52273617, 0.31119955]])


def _to_space(rgb: np.ndarray, space: str) -> np.ndarray:
    if space == "lab-alpha-beta":
        return np.log10(np.maximum(rgb @ _RGB_TO_LMS.T, _LMS_FLOOR)) @ _LOG_LMS_TO_LAB.T
    if space == "cielab":
        return rgb2lab(rgb[None])[0]
    if space == "yiq":
        return rgb @ _RGB_TO_YIQ.T
    return rgb


def _from_space(x: np.ndarray, space: str) -> np.ndarray:
    if space == "lab-alpha-beta":
        log_lms = np.clip(x @ np.linalg.inv(_LOG_LMS_TO_LAB).T, math.log10(_LMS_FLOOR), math.log10(_LMS_MAX))
        return 10.0**log_lms @ np.linalg.inv(_RGB_TO_LMS).T
    if space == "cielab":
        return lab2rgb(x[None])[0]
    if space == "yiq":
        return x @ np.linalg.inv(_RGB_TO_YIQ).T
    return x


def _inv_sqrt(cov: np.ndarray) -> np.ndarray:
    return np.linalg.inv(np.real(sqrtm(cov)))


def _mkl(cs: np.ndarray, cr: np.ndarray) -> np.ndarray:
    root = np.real(sqrtm(cs))
    return _inv_sqrt(cs) @ np.real(sqrtm(root @ cr @ root)) @ _inv_sqrt(cs)


def _diagonal(cs: np.ndarray, cr: np.ndarray) -> np.ndarray:
    return np.diag(np.sqrt(np.diag(cr) / np.diag(cs)))


def _first(cs: np.ndarray, cr: np.ndarray) -> np.ndarray:
    return np.diag([math.sqrt(cr[0, 0] / cs[0, 0]), 1.0, 1.0])


#: name -> (transfer, closed-form matrix A of ``A (x - μs) + μr``, its space options)
LINEAR = {
    "mkl": (color.mkl, _mkl, ("rgb", "lab-alpha-beta", "cielab")),
    "cholesky": (color.cholesky, lambda cs, cr: np.linalg.cholesky(cr) @ np.linalg.inv(np.linalg.cholesky(cs)),
                 ("rgb", "lab-alpha-beta", "cielab")),
    "pca": (color.pca, lambda cs, cr: np.real(sqrtm(cr)) @ _inv_sqrt(cs), ("rgb", "lab-alpha-beta", "cielab")),
    "reinhard": (color.reinhard, _diagonal, ("rgb", "lab-alpha-beta", "cielab")),
    "mean-std": (color.mean_std, _diagonal, (None,)),
    "luminance": (color.luminance, _first, ("yiq", "cielab")),
}
CASES = [(name, space) for name, (_, _, spaces) in LINEAR.items() for space in spaces]


def _closed_form(name: str, space: str | None, source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The transfer in float64, clipped and rounded to uint8 as the contract says."""
    fn, matrix, _ = LINEAR[name]
    space = space or "rgb"
    x, y = (_to_space(im.reshape(-1, 3) / 255.0, space) for im in (source, reference))
    cs, cr = np.cov(x, rowvar=False, bias=True), np.cov(y, rowvar=False, bias=True)
    target = y.mean(0)
    if name == "luminance":
        target[1:] = x.mean(0)[1:]
    out = (x - x.mean(0)) @ matrix(cs, cr).T + target
    return np.rint(np.clip(_from_space(out, space), 0, 1) * 255).reshape(source.shape)


def _photo(seed: int, saturation: float, shape: tuple[int, int] = (24, 20)) -> np.ndarray:
    """A photo-like uint8 image; ``saturation`` 0.02 makes it near-gray."""
    image = smooth_image(np.random.default_rng(seed), *shape).astype(np.float64)
    gray = image.mean(axis=-1, keepdims=True)
    return np.rint(np.clip(gray + saturation * (image - gray), 0, 1) * 255).astype(np.uint8)


def _call(name: str, space: str | None, source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    fn = LINEAR[name][0]
    return fn(source, reference) if space is None else fn(source, reference, space=space)


SEEDS = st.integers(0, 2**16)
SATURATIONS = st.sampled_from([1.0, 0.3, 0.05, 0.02])


@pytest.mark.parametrize(("name", "space"), CASES)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, saturation=SATURATIONS)
def test_a_linear_transfer_of_an_image_onto_itself_is_the_identity(name, space, seed, saturation):
    image = _photo(seed, saturation)
    out = _call(name, space, image, image)
    assert np.abs(out.astype(int) - image).max() <= 1


@pytest.mark.parametrize(("name", "space"), CASES)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, saturation=SATURATIONS)
def test_a_linear_transfer_equals_its_float64_closed_form(name, space, seed, saturation):
    source, reference = _photo(seed, saturation), _photo(seed + 1, 1.0, (18, 26))
    out = _call(name, space, source, reference)
    assert np.abs(out.astype(int) - _closed_form(name, space, source, reference)).max() <= 1


def test_mkl_of_a_near_gray_photo_onto_itself_is_the_identity():
    # Once 94 levels off: eigenvalue clamps at 1e-6 of the largest bent the chroma axes.
    image = _photo(7, 0.03, (64, 64))
    for space in ("rgb", "lab-alpha-beta", "cielab"):
        assert np.abs(color.mkl(image, image, space=space).astype(int) - image).max() <= 1
