"""Driving the engine's progress generators to their end."""

from __future__ import annotations

from typing import Any, Generator, TypeVar

__all__ = ["result_of"]

T = TypeVar("T")


def result_of(events: Generator[Any, Any, T]) -> T:
    """The value ``events`` returns, its progress events discarded: the plain form of a run."""
    while True:
        try:
            next(events)
        except StopIteration as done:
            return done.value
