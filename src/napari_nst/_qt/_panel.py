"""The layout every panel shares: a scrolling form over a pinned footer, and collapsible sections.

Docked beside the other panels on a laptop screen a panel may get 250 px of height: the form
scrolls, while the buttons, the progress bar and the status line stay in view below it. The
panel asks for no more width than its narrowest useful form, so the canvas keeps its share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from magicgui.widgets import Container, ProgressBar, PushButton, Widget
from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import QComboBox, QFrame, QScrollArea, QSizePolicy

from ._status import StatusLine

__all__ = ["Section", "Panel", "PANEL_MIN_WIDTH", "PANEL_WIDTH"]

#: The narrowest the form is laid out; a narrower dock scrolls sideways rather than widening.
PANEL_MIN_WIDTH = 240
#: The width a panel asks for: on a 1280 px window beside napari's layer list (320 px) the
#: canvas keeps more than half the width.
PANEL_WIDTH = 280
#: The form height a panel asks for: docked panels then share a laptop screen's height.
PANEL_HEIGHT = 220


class Section(Container):
    """A titled group of fields that folds away behind its header button.

    Fields are laid out with labels; a ``wide`` widget (an options form, a nested list of
    fields) gets the section's whole width instead of sitting in the value column.
    """

    def __init__(
        self,
        title: str,
        widgets: Sequence[Widget],
        *,
        wide: Sequence[Widget] = (),
        expanded: bool = False,
        tooltip: str = "",
    ) -> None:
        self._title = title
        self.header = PushButton(name=f"{_slug(title)}_header", text=title)
        self.header.tooltip = tooltip or f"show or hide the {title.lower()} settings"
        self.header.native.setStyleSheet("text-align: left; padding-left: 6px;")
        self.body = Container(name=f"{_slug(title)}_body", widgets=_rows(widgets, wide), labels=False)
        self.body.margins = (8, 0, 0, 4)
        super().__init__(name=_slug(title), widgets=[self.header, self.body], labels=False, label="")
        self.margins = (0, 0, 0, 0)
        self.header.changed.connect(self._toggle)
        self.expanded = expanded

    @property
    def expanded(self) -> bool:
        """Whether the fields are shown (when the panel is; ``visible`` is False off-screen)."""
        return not self.body.native.isHidden()

    @expanded.setter
    def expanded(self, value: bool) -> None:
        self.body.visible = bool(value)
        self.header.text = f"{'▾' if value else '▸'} {self._title}"

    def _toggle(self, *_: Any) -> None:
        self.expanded = not self.expanded


def _rows(widgets: Sequence[Widget], wide: Sequence[Widget]) -> list[Widget]:
    """Runs of ordinary fields as labelled groups, with each ``wide`` widget on its own between them."""
    rows: list[Widget] = []
    run: list[Widget] = []
    for widget in widgets:
        if any(widget is w for w in wide):
            if run:
                rows.append(_labelled(run))
                run = []
            widget.margins = (12, 0, 0, 0)
            rows.append(widget)
        else:
            run.append(widget)
    if run:
        rows.append(_labelled(run))
    return rows


def _labelled(widgets: list[Widget]) -> Container:
    group = Container(widgets=widgets, labels=True)
    group.margins = (0, 0, 0, 0)
    return group


class Panel(Container):
    """``form`` in a vertical scroll area, ``buttons``, a progress bar and a :class:`StatusLine` below."""

    def __init__(self, form: Sequence[Widget], buttons: Sequence[Widget], *, extra: Sequence[Widget] = ()) -> None:
        self.form = Container(name="form", widgets=list(form), labels=False)
        self.progress = ProgressBar(name="progress", value=0, min=0, max=1, visible=False, label="")
        self.status = StatusLine()
        row = Container(name="buttons", widgets=list(buttons), layout="horizontal", labels=False)
        row.margins = (0, 0, 0, 0)
        super().__init__(widgets=[row, self.progress, self.status, *extra], labels=False)
        self.margins = (4, 4, 4, 4)
        # Our own QScrollArea: magicgui's ``scrollable=True`` is lost when that container sits
        # inside another one (the parent lays out the inner widget, not the scroll area).
        self.form.native.setMinimumWidth(PANEL_MIN_WIDTH)
        self.form.native.layout().addStretch(1)  # fields stay packed at the top of a tall panel
        self.scroll_area = _NarrowScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll_area.setWidget(self.form.native)
        self.scroll_area.setMinimumHeight(60)
        self.scroll_area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.native.layout().insertWidget(0, self.scroll_area, 1)
        for combo in self.form.native.findChildren(QComboBox):
            # A long layer name must not widen the panel: the combo box elides it instead.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)

    def reset_choices(self, *_: Any) -> None:
        """Refresh the form's choices too: it sits in the scroll area, outside this container's list."""
        super().reset_choices()
        self.form.reset_choices()

    def set_progress(self, value: int, total: int) -> None:
        """Show the panel's own progress bar at ``value`` of ``total``."""
        self.progress.max = max(1, int(total))
        self.progress.value = min(int(value), self.progress.max)
        self.progress.visible = True

    def hide_progress(self) -> None:
        """Hide the progress bar (a run has ended)."""
        self.progress.visible = False


class _NarrowScrollArea(QScrollArea):
    """A scroll area that asks for :data:`PANEL_WIDTH` and at most :data:`PANEL_HEIGHT`.

    QScrollArea asks for its content's size: the dock would take that width from the canvas,
    and with several panels docked the tallest form would leave the others a sliver.
    """

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(PANEL_WIDTH, min(super().sizeHint().height(), PANEL_HEIGHT))


def _slug(title: str) -> str:
    return "_".join(title.lower().split())
