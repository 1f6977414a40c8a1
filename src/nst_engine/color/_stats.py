"""Pixel statistics and symmetric matrix functions shared by the linear transfers."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._rows import scatter

__all__ = [
    "sample_rows",
    "REFERENCE_SAMPLES",
    "mean_cov",
    "sym_power",
    "rank_cutoff",
    "AffineMap",
    "RowVector",
    "EIG_FLOOR",
    "EIG_RELATIVE",
]

#: Eigenvalues at or below ``EIG_FLOOR`` (variance in [0, 1]² units, a standard deviation of
#: 1e-7, under float32's resolution of pixel values) or ``EIG_RELATIVE`` of the largest are
#: numerically zero: negative powers treat them as a pseudo-inverse does (gain 0). Every
#: real variance of an 8- or 16-bit image is above both (16-bit quantisation alone is
#: 2e-11), so a near-gray source keeps its exact map; the gain along a kept direction is then
#: at most ~3e4, whose float32 rounding stays under a quarter of an 8-bit level.
EIG_FLOOR = 1e-14
EIG_RELATIVE = 1e-9

_BLOCK = 1 << 15

#: The reference's statistics come from at most this many of its pixels, drawn with a seed:
#: means, covariances and CDFs are then within ~1e-3 of the whole image's (for CDFs by the
#: Dvoretzky-Kiefer-Wolfowitz bound, 95 %), and a 16-megapixel reference costs a sixteenth.
REFERENCE_SAMPLES = 1 << 20


def sample_rows(pixels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` rows of ``pixels`` (all of them if there are no more): one drawn
    from each of ``limit`` equal runs of rows with ``default_rng(seed)``.

    Stratified rather than independent draws: no row twice, a lower-variance estimate, and
    the rows come out in memory order for a cheap gather without the sort that independent
    draws need (1 M of 16 M rows: 45 ms instead of 75 ms).
    """
    if len(pixels) <= limit:
        return pixels
    stride = len(pixels) / limit
    rows = np.random.default_rng(seed).random(limit)
    rows += np.arange(limit)
    rows *= stride
    return pixels[rows.astype(np.intp)]


def mean_cov(
    pixels: np.ndarray,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    store: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) covariance of ``N×C`` pixels, exact to float64 precision.

    ``transform`` is applied a block at a time first; ``store``, if given, receives the
    transformed pixels (so a caller that needs them again pays for them once).

    Blocks are shifted by a rough mean in float32 (each deviation then exact to float32's
    relative precision) and reduced in float64 by BLAS. A float32 reduction loses ~1e-6 of
    the largest variance, as much as the whole chroma variance of a near-gray 8-bit image:
    that made ``mkl`` miss its closed form by up to 30 levels there.
    """
    if transform is None:
        transform = _identity
    n, c = pixels.shape
    shift = transform(np.ascontiguousarray(pixels[:: max(1, n // 4096)]))
    shift = shift.mean(axis=0, dtype=np.float64).astype(np.float32)
    shift_rows = RowVector(shift)
    total = np.zeros(c)
    products = np.zeros((c, c))
    for start in range(0, n, _BLOCK):
        block = transform(pixels[start : start + _BLOCK])
        if store is not None:
            store[start : start + _BLOCK] = block
        sums, block_products = scatter(shift_rows.subtract_from(block).astype(np.float64))
        total += sums
        products += block_products
    offset = total / n
    return shift + offset, products / n - np.outer(offset, offset)


class RowVector:
    """A length-C vector to add to or subtract from every row of ``N×C`` float32 pixels.

    numpy broadcasts ``(N, 3) - (3,)`` with an inner loop of length 3, measured 3-5x slower
    than the same operation on two flat arrays; the vector is tiled once and reused.
    """

    def __init__(self, vector: np.ndarray) -> None:
        self._vector = np.asarray(vector, dtype=np.float32)
        self._tiled = np.tile(self._vector, _BLOCK)

    def _tile(self, size: int) -> np.ndarray:
        if size > self._tiled.size:
            self._tiled = np.tile(self._vector, size // self._vector.size)
        return self._tiled[:size]

    def subtract_from(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels - vector`` as a new C-contiguous array."""
        flat = np.ascontiguousarray(pixels, dtype=np.float32).reshape(-1)
        return np.subtract(flat, self._tile(flat.size)).reshape(-1, self._vector.size)

    def add_to(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels += vector`` in place (``pixels`` C-contiguous float32); returns it."""
        flat = pixels.reshape(-1)
        flat += self._tile(flat.size)
        return pixels


def _identity(pixels: np.ndarray) -> np.ndarray:
    return pixels


def rank_cutoff(values: np.ndarray) -> float:
    """The eigenvalue at or below which a covariance with eigenvalues ``values`` is singular."""
    return max(EIG_FLOOR, EIG_RELATIVE * float(np.max(values)))


def sym_power(matrix: np.ndarray, power: float) -> np.ndarray:
    """``matrix ** power`` of a symmetric PSD matrix, in float64 from its eigen-decomposition.

    A negative power is that of the pseudo-inverse: eigenvalues at or below
    :func:`rank_cutoff` give 0, so a direction without variance gets no gain (its pixels go
    to the target mean) rather than the large one a clamp (Pitié & Kokaram 2007 add ``eps``)
    gives. Clamping every small eigenvalue is what kept ``mkl(x, x)`` from the identity.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    if power < 0:
        kept = values > rank_cutoff(values)
        powered = np.zeros_like(values)
        powered[kept] = values[kept] ** power
    else:
        powered = np.maximum(values, 0.0) ** power
    return (vectors * powered) @ vectors.T


class AffineMap:
    """``x' = A (x - μs) + μr`` on every row of ``N×C`` float32 pixels.

    Centred before the product: folding ``A μs`` into the offset would cancel large terms in
    float32 when ``A`` has a large gain along a direction without variance.
    """

    def __init__(
        self, matrix: np.ndarray, source_mean: np.ndarray, target_mean: np.ndarray
    ) -> None:
        # A C-ordered right operand: numpy's matmul skips BLAS for a transposed view.
        self._matrix = np.ascontiguousarray(np.asarray(matrix).T, dtype=np.float32)
        self._source = RowVector(source_mean)
        self._target = RowVector(target_mean)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self._target.add_to(self._source.subtract_from(pixels) @ self._matrix)
