"""Temporary: moved to :mod:`nst_engine.entries` (removed once every import is updated)."""
from .entries import Option  # noqa: F401
