"""Temporary: moved to :mod:`nst_engine.entries` (removed once every import is updated)."""
from .entries import KINDS, Entry, kind_label, make_entry  # noqa: F401
