"""The names by which loss terms ask for the run's reference images, in one place.

A loss's :meth:`~nst_engine.losses.Loss.prepare` asks ``references.image(name)`` or
``references.features(name, layers)`` for one of these; the pipeline builds them per scale.
"""

from __future__ import annotations

__all__ = ["CONTENT", "STYLE", "STYLE_AT_CONTENT", "style_ref", "style_index", "opposite"]

#: The content image at the current scale.
CONTENT = "content"
#: The (only) style image at its own scale; with several, :func:`style_ref` names each.
STYLE = "style"
#: The first style image resized to the content's shape: what a content term is measured
#: against for its reference magnitude (dynamic weighting), and a blend partner.
STYLE_AT_CONTENT = "style@content"

_STYLE_PREFIX = "style:"


def style_ref(index: int) -> str:
    """The name of style image ``index`` (0-based): ``"style:0"``, ``"style:1"``..."""
    return f"{_STYLE_PREFIX}{index}"


def style_index(name: str | None) -> int:
    """The style image a reference name points at: ``"style:2"`` -> 2; ``None``/``"style"`` -> 0."""
    if name is None or name == STYLE:
        return 0
    if not name.startswith(_STYLE_PREFIX):
        raise ValueError(f"{name!r} names no style image; use {STYLE!r} or {style_ref(0)!r}")
    return int(name[len(_STYLE_PREFIX):])


def opposite(role: str) -> str:
    """The reference a term of ``role`` is farthest from: its magnitude is measured there."""
    return STYLE_AT_CONTENT if role == "content" else CONTENT
