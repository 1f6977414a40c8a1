"""Grain reducer of Pitié, Kokaram & Dahyot (CVIU 2007) for distribution transfers.

A transfer that stretches the color distribution also stretches noise and JPEG blocks into
grain. The regrained image ``J`` keeps the transfer's colors ``T(I)`` and the source's
gradients, minimising ``∫ φ ||∇J - ∇I||² + ψ ||J - T(I)||²`` with ``ψ`` near 0 on flat
areas (there ``J`` follows ``I``'s gradients) and 1 on edges, and ``φ`` large on flat areas.
It is solved as in Pitié's reference code (``regrain.m``): damped Jacobi sweeps on the
Euler-Lagrange equation, coarse to fine.

Our energy adds a shadow term, ``ω (Y(J) - Y(I))²``, weighted by the squared Weber
fraction of the source's luma, ``ω = shadows · (ε / (Y(I) + ε))²``. A transfer onto a
reference with clipped blacks maps a whole range of the source's shadows to 0; Pitié's
energy keeps that (it sees an absolute error of 0.05), while the eye, and SSIM's luminance
comparison, see the relative one: the shadows' shapes are gone. The term keeps them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ImageError, OptionError
from ..images import to_unit_float
from .spaces import LUMA

__all__ = ["regrain", "regrain_planes"]

#: Default weight of the source's gradients (Pitié's default is 1; see :func:`regrain`).
SMOOTHNESS = 0.2
#: Default weight of the source's luminance in its shadows (0 is Pitié's energy).
SHADOWS = 2.75
# The dark-light constant of the shadow term's Weber fraction ΔY / (Y + ε), in [0, 1] luma.
_DARK = 0.05

# Jacobi sweeps per pyramid level, finest first, and the damping, from Pitié's regrain.m.
_SWEEPS = (4, 16, 32, 64, 64, 64)
_DAMPING = 0.2
# A level is halved again only while both halves keep more than this many pixels.
_MIN_SIDE = 20
# Rows per block of a sweep: its temporaries stay in cache, measured 2x faster at 4096²
# than whole-image operations, which are memory-bound.
_STRIP = 16


def regrain(
    source: np.ndarray,
    graded: np.ndarray,
    *,
    smoothness: float = SMOOTHNESS,
    shadows: float = SHADOWS,
) -> np.ndarray:
    """Give ``graded`` (the transfer of ``source``) back the gradients of ``source``, and
    its luminance in the shadows.

    F. Pitié, A. Kokaram and R. Dahyot, "Automated colour grading using colour distribution
    transfer", Computer Vision and Image Understanding 107 (2007), section 5.

    Parameters
    ----------
    source, graded
        ``H×W×3`` images of one size: unsigned integers (by their dtype's range) or floats,
        ``source`` in [0, 1], ``graded`` finite (it may overshoot [0, 1]).
    smoothness
        Weight of the source's gradient field; 0 returns ``graded`` unchanged.
    shadows
        Weight of the source's luminance in its shadows (0: Pitié's energy alone).

    Returns
    -------
    numpy.ndarray
        ``H×W×3`` float32, unclipped.

    Notes
    -----
    The defaults were chosen on astronaut's colors onto coffee at 1024² after a 10-iteration
    IDT (``benchmarks/quality_color.py``): Pitié's ``smoothness=1, shadows=0`` gives KL
    0.021/0.023/0.031 at luminance SSIM 0.854; ``0.2, 2.75`` gives 0.013/0.029/0.018 at
    0.889, and KL ≤ 0.03 with SSIM ≥ 0.885 for each of the rotation seeds 0-7. A smaller
    ``smoothness`` only lowers ``φ`` where the source has gradients, so flat areas lose
    their grain as before. On five other pairs of ``skimage.data`` images the defaults
    lowered the largest KL on four and moved SSIM by -0.012 to +0.014 (docs/color.md).

    Besides the shadow term, two departures from ``regrain.m``, both keeping its fixed point: a coarser level's
    solution is carried to the finer one as the correction ``J - I`` rather than as ``J``,
    so the fine level starts from the source's own detail instead of a blurred image (with
    only 4 sweeps at full size, ``regrain.m`` leaves ``J = I + c`` off by 0.03 where this
    returns it), and the coarsest level starts from the mean correction rather than 0.
    """
    i0 = _planes(source, "source", bounded=True)
    ir = _planes(graded, "graded", bounded=False)
    if i0.shape != ir.shape:
        raise ImageError(
            f"source is {i0.shape[1]}×{i0.shape[2]} and graded is {ir.shape[1]}×{ir.shape[2]}; "
            "graded must be the transfer of source, pixel for pixel"
        )
    for name, value in (("smoothness", smoothness), ("shadows", shadows)):
        if not (math.isfinite(value) and value >= 0):
            raise OptionError(f"{name} must be a finite number >= 0; got {value!r}")
    result = regrain_planes(i0, ir, smoothness=smoothness, shadows=shadows)
    return np.ascontiguousarray(np.moveaxis(result, 0, -1))


def regrain_planes(
    source: np.ndarray, graded: np.ndarray, *, smoothness: float, shadows: float
) -> np.ndarray:
    """:func:`regrain` of planar ``3×H×W`` float32 images (C-contiguous), planar out."""
    if smoothness <= 0:
        return graded.copy()
    weights = _Weights(float(smoothness), float(shadows))
    result = _level(source, graded, _SWEEPS, 0, weights)
    result += source
    return result


def _planes(image: np.ndarray, name: str, *, bounded: bool) -> np.ndarray:
    """``image`` as planar ``3×H×W`` float32, or an ImageError that says what to pass."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ImageError(f"{name} has shape {array.shape}; regrain takes H×W×3 RGB images")
    if not np.issubdtype(array.dtype, np.floating):
        # The engine's one integer rule (signed integers as 8- or 16-bit by their values).
        array = to_unit_float(array, what=name)
    low, high = float(array.min()), float(array.max())
    # min and max propagate NaN, so checking them covers NaN and infinities anywhere.
    if not (np.isfinite(low) and np.isfinite(high)) or (bounded and not (low >= 0 and high <= 1)):
        expected = "in [0, 1]" if bounded else "finite"
        raise ImageError(f"{name} has values in [{low:g}, {high:g}]; regrain needs them {expected}")
    return np.ascontiguousarray(np.moveaxis(array.astype(np.float32, copy=False), -1, 0))


@dataclass(frozen=True)
class _Weights:
    smoothness: float
    shadows: float


def _level(
    i0: np.ndarray, ir: np.ndarray, sweeps: tuple[int, ...], level: int, weights: _Weights
) -> np.ndarray:
    """The correction ``J - I`` at this level."""
    height, width = i0.shape[1:]
    half = (-(-height // 2), -(-width // 2))
    if len(sweeps) > 1 and min(half) > _MIN_SIDE:
        coarse = _level(_halve(i0), _halve(ir), sweeps[1:], level + 1, weights)
        correction = _double(coarse, (height, width))
    else:
        # Flat areas take their color from the edges around them, so an image without
        # edges (psi = 0 everywhere) would keep the source's colors from J = I; starting
        # from the mean offset gives it the transfer's. On photos the coarsest level's
        # sweeps erase the difference (KL and SSIM equal to 4 decimals).
        correction = np.empty_like(i0)
        correction[...] = (ir - i0).mean(axis=(1, 2), keepdims=True)
    return _solve(correction, i0, ir, sweeps[0], level, weights)


def _solve(
    d: np.ndarray, i0: np.ndarray, ir: np.ndarray, sweeps: int, level: int, weights: _Weights
) -> np.ndarray:
    """Damped Jacobi sweeps on ``d = J - I`` (planar ``3×H×W``)."""
    grad = _gradient_norm(i0)
    psi = np.minimum(grad * np.float32(256 / 5), np.float32(1))
    phi = grad
    phi *= np.float32(10 / weights.smoothness)
    phi += np.float32(1)
    np.divide(np.float32(30 * 2.0**-level), phi, out=phi)
    # Weights towards the right/left and down/up neighbours: the average of the two
    # pixels' phi, which is one array per direction pair, shifted.
    right, left = _edge_average(phi, 1)
    down, up = _edge_average(phi, 0)
    scale = psi + right
    scale += left
    scale += down
    scale += up
    coupling = _shadow_coupling(i0, scale, weights.shadows)
    np.divide(np.float32(1 - _DAMPING), scale, out=scale)
    for weight in (right, left, down, up):
        weight *= scale
    psi *= scale
    data = np.subtract(ir, i0)
    data *= psi
    del psi, scale, phi
    # A missing neighbour at the border is the pixel itself (replicated edge).
    own = np.full(right.shape, _DAMPING, dtype=np.float32)
    own[:, -1] += right[:, -1]
    own[-1, :] += down[-1, :]
    own[:, 0] += left[:, 0]
    own[0, :] += up[0, :]
    new = np.empty_like(d)
    term = np.empty((3, _STRIP, d.shape[2]), dtype=d.dtype)
    luma = np.empty((2, _STRIP, d.shape[2]), dtype=d.dtype)
    neighbours = (own, right, left, down, up)
    for _ in range(sweeps):
        for top in range(0, d.shape[1], _STRIP):
            bottom = min(top + _STRIP, d.shape[1])
            _sweep_strip(new, d, data, neighbours, term, top, bottom)
            if coupling is not None:
                _keep_luma(new, d, coupling, luma, top, bottom)
        d, new = new, d
    return d


def _shadow_coupling(i0: np.ndarray, diagonal: np.ndarray, shadows: float) -> np.ndarray | None:
    """``k = ω / (a + ω |w|²)`` of the shadow term ``ω (w·d)²``, where ``a`` is the diagonal
    of the rest of the energy, or None when the term is off.

    ``ω = shadows · (ε / (Y + ε))²`` is the squared Weber fraction of a luminance change
    over the source's luma ``Y``, with the dark-light constant ``ε`` keeping it finite
    at black: full weight in deep shadows, ``shadows / 4`` at ``Y = ε``, ~0 in highlights.
    """
    if shadows <= 0:
        return None
    omega = np.tensordot(LUMA, i0, axes=1)
    omega += _DARK
    np.divide(np.float32(_DARK), omega, out=omega)
    omega *= omega
    omega *= np.float32(shadows)
    denominator = omega * np.float32(LUMA @ LUMA)
    denominator += diagonal
    return np.divide(omega, denominator, out=omega)


def _keep_luma(
    new: np.ndarray, d: np.ndarray, coupling: np.ndarray, luma: np.ndarray, top: int, bottom: int
) -> None:
    """Add the shadow term to rows ``top:bottom`` of a Jacobi update.

    Each pixel's 3×3 system is ``(a I + ω w wᵀ) d = v``; with ``u = v / a`` (the update
    without the term, which ``new - ρ d`` holds times ``1 - ρ``) Sherman-Morrison gives
    ``d = u - k (w·u) w``.
    """
    rows = bottom - top
    out, old = new[:, top:bottom], d[:, top:bottom]
    change, scratch = luma[0, :rows], luma[1, :rows]
    np.multiply(out[0], LUMA[0], out=change)
    np.multiply(old[0], LUMA[0] * _DAMPING, out=scratch)
    change -= scratch
    for c in (1, 2):
        np.multiply(out[c], LUMA[c], out=scratch)
        change += scratch
        np.multiply(old[c], LUMA[c] * _DAMPING, out=scratch)
        change -= scratch
    change *= coupling[top:bottom]
    for c in range(3):
        np.multiply(change, LUMA[c], out=scratch)
        out[c] -= scratch


def _sweep_strip(
    new: np.ndarray,
    d: np.ndarray,
    data: np.ndarray,
    weights: tuple[np.ndarray, ...],
    term: np.ndarray,
    top: int,
    bottom: int,
) -> None:
    """One Jacobi update of rows ``top:bottom``: new = own d + data + Σ weight · neighbour."""
    own, right, left, down, up = weights
    last = d.shape[1] - 1
    out = new[:, top:bottom]
    np.multiply(d[:, top:bottom], own[top:bottom], out=out)
    out += data[:, top:bottom]
    rows = bottom - top
    t = term[:, :rows, :-1]
    np.multiply(d[:, top:bottom, 1:], right[top:bottom, :-1], out=t)
    out[:, :, :-1] += t
    np.multiply(d[:, top:bottom, :-1], left[top:bottom, 1:], out=t)
    out[:, :, 1:] += t
    end = min(bottom, last)
    t = term[:, : end - top]
    np.multiply(d[:, top + 1 : end + 1], down[top:end], out=t)
    out[:, : end - top] += t
    start = max(top, 1)
    t = term[:, : bottom - start]
    np.multiply(d[:, start - 1 : bottom - 1], up[start:bottom], out=t)
    out[:, start - top :] += t


def _gradient_norm(image: np.ndarray) -> np.ndarray:
    """``sqrt(Σ_c (∂x I_c)² + (∂y I_c)²)``, central differences over two pixels with the
    edge replicated (as ``regrain.m``), accumulated one plane at a time."""
    total = np.zeros(image.shape[1:], dtype=np.float32)
    diff = np.empty_like(total)
    for plane in image:
        for axis in (0, 1):
            if plane.shape[axis] < 2:
                continue
            inner, first, last = _cut(axis, 1, -1), _cut(axis, None, 1), _cut(axis, -1, None)
            np.subtract(plane[_cut(axis, 2, None)], plane[_cut(axis, None, -2)], out=diff[inner])
            np.subtract(plane[_cut(axis, 1, 2)], plane[first], out=diff[first])
            np.subtract(plane[last], plane[_cut(axis, -2, -1)], out=diff[last])
            diff *= diff
            total += diff
    return np.sqrt(total, out=total)


def _edge_average(phi: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights towards the next and the previous pixel along ``axis``: the mean of the two
    pixels' ``phi`` (the pixel's own ``phi`` where the neighbour would be outside)."""
    ahead, behind = np.empty_like(phi), np.empty_like(phi)
    head, tail = _cut(axis, None, -1), _cut(axis, 1, None)
    first, last = _cut(axis, None, 1), _cut(axis, -1, None)
    np.add(phi[head], phi[tail], out=ahead[head])
    ahead[head] *= np.float32(0.5)
    ahead[last] = phi[last]
    behind[tail] = ahead[head]
    behind[first] = phi[first]
    return ahead, behind


def _halve(a: np.ndarray) -> np.ndarray:
    """2x2 box average with the last row/column replicated on odd sides: the anti-aliased
    bilinear halving of ``imresize`` up to the kernel's shape."""
    if a.shape[1] % 2:
        a = np.concatenate([a, a[:, -1:]], axis=1)
    if a.shape[2] % 2:
        a = np.concatenate([a, a[:, :, -1:]], axis=2)
    out = a[:, 0::2, 0::2] + a[:, 1::2, 0::2]
    out += a[:, 0::2, 1::2]
    out += a[:, 1::2, 1::2]
    out *= np.float32(0.25)
    return out


def _double(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear doubling (pixel centres aligned, edges replicated), cropped to ``shape``."""
    for axis in (1, 2):
        quarter = a * np.float32(0.25)
        wide = list(a.shape)
        wide[axis] *= 2
        out = np.empty(wide, dtype=a.dtype)
        even = out[(slice(None),) * axis + (slice(0, None, 2),)]
        odd = out[(slice(None),) * axis + (slice(1, None, 2),)]
        np.multiply(a, np.float32(0.75), out=even)
        np.copyto(odd, even)
        # Each new pixel takes a quarter of the old neighbour on its side (itself at an edge).
        even[_cut(axis, 1, None)] += quarter[_cut(axis, None, -1)]
        even[_cut(axis, None, 1)] += quarter[_cut(axis, None, 1)]
        odd[_cut(axis, None, -1)] += quarter[_cut(axis, 1, None)]
        odd[_cut(axis, -1, None)] += quarter[_cut(axis, -1, None)]
        a = out
    if a.shape[1:] == tuple(shape):
        return a
    return np.ascontiguousarray(a[:, : shape[0], : shape[1]])


def _cut(axis: int, start: int | None, stop: int | None) -> tuple:
    return (slice(None),) * axis + (slice(start, stop),)
