"""A panel's status line: wrapped, elided to the panel's width, never widening the window.

Every panel reports what it is doing and every error here, where the user is looking, not
only as a toast in the canvas corner (which a docked panel can push off-screen). A long
message is wrapped to at most :data:`MAX_LINES` lines and elided; its full text is in the
tooltip and behind a "details" button, with the traceback when there is one.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import Container, Label, PushButton, TextEdit
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QLabel, QSizePolicy

__all__ = ["StatusLine", "MAX_LINES"]

#: Lines of a message shown before it is elided.
MAX_LINES = 3


class StatusLine(Container):
    """The status of a panel: ``value`` is the full text, ``show_error`` adds details."""

    def __init__(self, *, name: str = "status") -> None:
        self._line = Label(name=f"{name}_text", value="")
        self._details_button = PushButton(name=f"{name}_details", text="details", visible=False)
        self._details_button.tooltip = "show the whole message"
        self._details = TextEdit(name=f"{name}_details_text", value="", visible=False)
        self._details.read_only = True
        self._details.native.setMaximumHeight(140)
        super().__init__(
            name=name, widgets=[self._line, self._details_button, self._details], labels=False, label=""
        )
        self.margins = (0, 0, 0, 0)
        label: QLabel = self._line.native
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Ignored: the label takes the width it is given and never asks for more, so a
        # 600-character path cannot widen the dock (and with it the window).
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        label.setMinimumWidth(1)
        # Capped: a wrapped label asked for its height at a tiny width would otherwise grow the window.
        label.setMaximumHeight(label.fontMetrics().lineSpacing() * MAX_LINES + 6)
        self._text = ""
        self._error = False
        self._details_button.changed.connect(self._toggle_details)
        self._resize_filter = _OnResize(self._relayout)  # re-elide when the panel is resized
        label.installEventFilter(self._resize_filter)

    @property
    def value(self) -> str:
        """The whole message (what is shown may be elided)."""
        return self._text

    @value.setter
    def value(self, text: str) -> None:
        self.show(str(text))

    @property
    def is_error(self) -> bool:
        """Whether the message shown is an error."""
        return self._error

    @property
    def shown_text(self) -> str:
        """The text as displayed, after eliding."""
        return self._line.native.text()

    def show(self, text: str, *, details: str = "", error: bool = False) -> None:
        """Show ``text``; ``details`` (a traceback, say) goes behind the "details" button."""
        self._text = text
        self._error = error
        full = text if not details else f"{text}\n\n{details}"
        self._details.value = full
        self._line.native.setStyleSheet("color: #ff7b72;" if error else "")
        self._line.native.setToolTip(full if full else "")
        self._relayout()

    def show_error(self, text: str, *, details: str = "") -> None:
        """Show an error: highlighted, with its details one click away."""
        self.show(text, details=details, error=True)

    def _relayout(self) -> None:
        label: QLabel = self._line.native
        metrics = label.fontMetrics()
        width = max(label.width(), 120)
        # A wrapped paragraph of MAX_LINES lines holds about MAX_LINES widths of text.
        budget = width * MAX_LINES - metrics.horizontalAdvance("…") * 4
        lines = self._text.splitlines() or [""]
        first = lines[0]
        shown = metrics.elidedText(first, Qt.TextElideMode.ElideRight, budget)
        label.setText(shown)
        cut = shown != first or len(lines) > 1 or self._details.value != self._text
        self._details_button.visible = bool(self._text) and cut
        if not self._details_button.visible:
            self._details.visible = False

    def _toggle_details(self, *_: Any) -> None:
        self._details.visible = not self._details.visible
        self._details_button.text = "hide details" if self._details.visible else "details"


class _OnResize(QObject):
    """Calls ``callback`` after each resize of the watched widget."""

    def __init__(self, callback: Any) -> None:
        super().__init__()
        self._callback = callback

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Resize:
            self._callback()
        return False
