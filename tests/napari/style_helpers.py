"""Shared by the Style Transfer widget tests: setting a widget up for a small, fast run."""

from __future__ import annotations

from typing import Any, Callable


def make_configure(fast: dict[str, Any]) -> Callable[..., Any]:
    """``configure(widget, content, style, **options)`` with ``fast`` as the defaults."""

    def configure(widget, content, style, **options):
        widget.content.value = content
        widget.style.value = style
        settings = {**fast, **options}
        widget.backbone.value = settings.pop("backbone")
        for name, value in settings.items():
            getattr(widget, name).value = value
        return widget

    return configure
