"""Linear (affine) transfers that match the full color covariance: MKL, Cholesky, PCA.

Each maps ``x' = A (x - μs) + μr`` with ``A Σs Aᵀ = Σr``; they differ in which such ``A``.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
from scipy.linalg import cholesky as _cholesky
from scipy.linalg import solve_triangular

from ._affine import affine_transfer
from ._io import check_choice, recolor
from ._stats import rank_cutoff, sym_power
from .spaces import SPACES, Space

__all__ = ["mkl", "cholesky", "pca", "mkl_matrix", "cholesky_matrix", "pca_matrix"]

_MatrixRule = Callable[[np.ndarray, np.ndarray], np.ndarray]


def mkl_matrix(source_cov: np.ndarray, reference_cov: np.ndarray) -> np.ndarray:
    """The Monge-Kantorovich linear map ``T = Σs^-½ (Σs^½ Σr Σs^½)^½ Σs^-½``.

    Of all ``A`` with ``A Σs Aᵀ = Σr`` it moves colors least (in mean squared distance).
    In float64; ``Σs^-½`` is a pseudo-inverse (:func:`._stats.sym_power`), so a singular
    covariance (a constant or two-color image) gives a finite map and ``Σs = Σr`` the
    identity on the colors the source has.
    """
    root = sym_power(source_cov, 0.5)
    inverse_root = sym_power(source_cov, -0.5)
    middle = sym_power(root @ np.asarray(reference_cov, dtype=np.float64) @ root, 0.5)
    return inverse_root @ middle @ inverse_root


def cholesky_matrix(source_cov: np.ndarray, reference_cov: np.ndarray) -> np.ndarray:
    """``A = Lr Ls⁻¹`` with ``Σ = L Lᵀ`` (Gatys et al. 2016, "Preserving color")."""
    return _cholesky_factor(reference_cov) @ solve_triangular(
        _cholesky_factor(source_cov), np.eye(len(source_cov)), lower=True
    )


def pca_matrix(source_cov: np.ndarray, reference_cov: np.ndarray) -> np.ndarray:
    """``A = Σr^½ Σs^-½`` with symmetric square roots from the eigen-decompositions.

    Gatys et al. 2016 ("Preserving color", the "image analogies" variant): ``Q Λ^½ Qᵀ``.
    """
    return sym_power(reference_cov, 0.5) @ sym_power(source_cov, -0.5)


# The ridge added to a singular covariance: large enough that ``Ls⁻¹``'s gain (at most
# 1/√ridge) times the float32 rounding of a deviation stays far below an 8-bit level.
_RIDGE_FLOOR = 1e-10
_RIDGE_RELATIVE = 1e-6


def _cholesky_factor(cov: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    values = np.linalg.eigvalsh(cov)
    if values.min() > rank_cutoff(values):
        return _cholesky(cov, lower=True)
    # Only a singular covariance gets a ridge: one on every covariance moved even
    # well-conditioned maps by up to 7 levels.
    ridge = max(_RIDGE_FLOOR, _RIDGE_RELATIVE * float(np.trace(cov)))
    return _cholesky(cov + ridge * np.eye(len(cov)), lower=True)


def mkl(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    space: Space = "rgb",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Monge-Kantorovich linear transfer (Pitié & Kokaram 2007).

    F. Pitié and A. Kokaram, "The linear Monge-Kantorovitch linear colour mapping for
    example-based colour transfer", CVMP 2007: the affine map that matches mean and
    covariance while displacing colors least, ``T = Σs^-½ (Σs^½ Σr Σs^½)^½ Σs^-½``.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    space
        Where the covariances are taken: ``"rgb"``, ``"lab-alpha-beta"`` or ``"cielab"``.
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose statistics count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    return _run(source, reference, source_mask, reference_mask, space, mkl_matrix)


def cholesky(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    space: Space = "rgb",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Match mean and covariance with Cholesky factors, ``A = Lr Ls⁻¹``.

    Gatys, Bethge, Hertzmann & Shechtman, "Preserving color in neural artistic style
    transfer", arXiv:1606.05897 (2016), color histogram matching, Cholesky variant.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    space
        Where the covariances are taken: ``"rgb"``, ``"lab-alpha-beta"`` or ``"cielab"``.
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose statistics count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    return _run(source, reference, source_mask, reference_mask, space, cholesky_matrix)


def pca(
    source: np.ndarray,
    reference: np.ndarray,
    *,
    space: Space = "rgb",
    source_mask: np.ndarray | None = None,
    reference_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Match mean and covariance with symmetric square roots, ``A = Σr^½ Σs^-½``.

    Gatys, Bethge, Hertzmann & Shechtman, "Preserving color in neural artistic style
    transfer", arXiv:1606.05897 (2016), color histogram matching, eigen-decomposition
    (PCA) variant: ``Q Λ^½ Qᵀ`` of each covariance.

    Parameters
    ----------
    source, reference
        Images (gray, RGB or RGBA; any unsigned or float dtype, floats in [0, 1]).
    space
        Where the covariances are taken: ``"rgb"``, ``"lab-alpha-beta"`` or ``"cielab"``.
    source_mask, reference_mask
        Optional ``H×W`` masks of the pixels whose statistics count.

    Returns
    -------
    numpy.ndarray
        The recoloured source, in the source's shape and dtype.
    """
    return _run(source, reference, source_mask, reference_mask, space, pca_matrix)


def _run(
    source: np.ndarray,
    reference: np.ndarray,
    source_mask: np.ndarray | None,
    reference_mask: np.ndarray | None,
    space: str,
    matrix_rule: _MatrixRule,
) -> np.ndarray:
    check_choice("space", space, SPACES)

    def rule(
        source_mean: np.ndarray,
        source_cov: np.ndarray,
        reference_mean: np.ndarray,
        reference_cov: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        return matrix_rule(source_cov, reference_cov), reference_mean

    core = partial(affine_transfer, space=space, rule=rule)
    return recolor(source, reference, source_mask, reference_mask, core)
