"""Checks of a run's scalar options: each failure an :class:`OptionError` naming the option.

A wrong type deep in torch surfaces as a bare ``TypeError`` from a line the caller never
wrote; checked here, the message says which option and what it accepts.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import OptionError

__all__ = ["check_bool", "check_choice", "check_int", "check_mapping", "check_positive_float", "check_style_shares"]


def _got(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(option: str, value: Any, *, minimum: int) -> int:
    """An integer ``>= minimum`` (numpy integers too; not bools, floats or strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OptionError(f"{option} must be an integer >= {minimum}; got {_got(value)}", option=option)
    if value < minimum:
        raise OptionError(f"{option} must be >= {minimum}; got {value}", option=option)
    return int(value)


def check_positive_float(option: str, value: Any) -> float:
    """A finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or not value > 0:
        raise OptionError(f"{option} must be a finite number > 0; got {_got(value)}", option=option)
    return float(value)


def check_bool(option: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise OptionError(f"{option} must be True or False; got {_got(value)}", option=option)
    return bool(value)


def check_choice(option: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise OptionError(f"{option} must be {', '.join(choices[:-1])} or {choices[-1]}; got {value!r}", option=option)
    return value


def check_mapping(option: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A mapping (``None``: empty) as a fresh dict, so that the caller's stays untouched."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise OptionError(f"{option} must be a mapping of names to values; got {_got(value)}", option=option)
    return dict(value)


def check_style_shares(weights: Sequence[float] | None, styles: int) -> list[float]:
    """Each style image's share of the style terms: ``weights`` normalised to sum 1 (default equal)."""
    if weights is None:
        return [1.0 / styles] * styles
    good = (isinstance(weights, Sequence) and not isinstance(weights, str) and len(weights) == styles
            and all(isinstance(w, numbers.Real) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
                    for w in weights) and sum(weights) > 0)
    if not good:
        raise OptionError(f"style_weights needs {styles} finite non-negative weight(s), not all zero; got {weights!r}",
                          option="style_weights")
    return [float(w) / sum(weights) for w in weights]
