"""Pieces every widget shares: layer pickers, plane choices, notifications, plugin warnings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magicgui.widgets import ComboBox, Table
from napari.layers import Image
from napari.utils.notifications import (
    Notification,
    notification_manager,
    show_error,
    show_warning,
)
from qtpy.QtWidgets import QStyledItemDelegate

from nst_engine import get_host, get_plugins
from nst_engine.plugins import PluginProblem

from .._layers import is_stack
from .._torch_guard import guard_triton

__all__ = [
    "kl_ssim_cells",
    "figures_table",
    "CURRENT_PLANE",
    "ALL_PLANES",
    "SELECTED_LAYERS",
    "image_picker",
    "layer_choices",
    "plane_picker",
    "sync_planes",
    "pick_apart",
    "notify_error",
    "notify_failure",
    "warn_plugin_errors",
    "engine_ready",
]

CURRENT_PLANE, ALL_PLANES = "current plane", "all planes"


class _Selected:
    """The content choice that stands for every selected Image layer (run as a batch)."""

    def __repr__(self) -> str:
        return "every selected layer"


#: A picker's value for "every selected layer" (``image_picker(selected=True)``).
SELECTED_LAYERS = _Selected()

_warned_plugins: set[str] = set()


def layer_choices(viewer: Any, kinds: Any, *_: Any) -> list[tuple[str, Any]]:
    """Choices of the viewer's layers of ``kinds``, read from ``viewer.layers`` itself (not
    napari's ancestor lookup): they work in a widget not docked yet, and through napari's proxy."""
    return [(layer.name, layer) for layer in viewer.layers if isinstance(layer, kinds)]


def image_picker(
    viewer: Any, *, name: str, label: str, nullable: bool = False, tooltip: str = "", selected: bool = False
) -> ComboBox:
    """A combo box of the viewer's Image layers, refreshed by ``reset_choices``; with ``selected``,
    a last entry "every selected layer" (:data:`SELECTED_LAYERS`). See :func:`layer_choices`.
    """

    def choices(*_: Any) -> list[tuple[str, Any]]:
        layers = layer_choices(viewer, Image)
        return [*layers, (repr(SELECTED_LAYERS), SELECTED_LAYERS)] if selected and layers else layers

    return ComboBox(name=name, label=label, choices=choices, nullable=nullable, tooltip=tooltip or None)


def pick_apart(second: ComboBox, first: ComboBox) -> None:
    """Move ``second`` off ``first``'s layer when another is there (style vs content, reference vs source).

    A layer named "... (style)" (the sample's) is preferred. Called at start-up and when the
    layer list changes, never on the user's own choice, so choosing one layer for both stays possible.
    """
    taken = first.value
    if taken is None or second.value is not taken:
        return
    others = [layer for layer in second.choices if layer is not taken and layer is not None]
    if others:
        styled = [layer for layer in others if str(layer.name).endswith("(style)")]
        second.value = (styled or others)[0]


def plane_picker(*, tooltip: str) -> ComboBox:
    """``current plane`` or ``all planes`` of a stack; enabled only when the input is a stack."""
    return ComboBox(name="planes", label="planes", choices=[CURRENT_PLANE, ALL_PLANES], tooltip=tooltip, enabled=False)


def sync_planes(planes: ComboBox, layer: Any) -> None:
    """Enable the plane choice for a stack (or every selected layer: it applies to their stacks);
    a single image always uses its one plane."""
    stack = layer is SELECTED_LAYERS or (layer is not None and is_stack(layer))
    planes.enabled = stack
    if not stack:
        planes.value = CURRENT_PLANE


def notify_error(message: str) -> None:
    """An error notification (napari shows it in the corner and keeps it in the list)."""
    show_error(message)


def notify_failure(exc: BaseException) -> None:
    """A worker's failure as an error notification: its message (cause and fix) up front, the
    traceback behind napari's "View Traceback" button."""
    notification_manager.dispatch(Notification.from_exception(exc))


def engine_ready() -> None:
    """Call first in a widget's ``__init__``: napari's GL context exists by then, and the engine
    is about to load its plugins (torchvision, and with it triton); see ``_torch_guard``."""
    guard_triton()
    warn_plugin_errors()


def _host_problems() -> list[PluginProblem]:
    return get_host().problems


def warn_plugin_errors(
    plugins: Callable[[], list[dict]] = get_plugins,
    host_problems: Callable[[], list[PluginProblem]] = _host_problems,
) -> None:
    """One warning per nst_engine plugin with errors, once per session: broken plugins are
    skipped by the engine, and the user should learn why an entry is missing. So is a plugin
    list (``NST_LOAD_PLUGINS``) that names none installed: it would load nothing silently."""
    for problem in host_problems():
        if problem.plugin not in _warned_plugins:
            _warned_plugins.add(problem.plugin)
            show_warning(f"nst_engine: {problem.message}")
    for plugin in plugins():
        name = plugin.get("name", "?")
        if plugin.get("errors") and name not in _warned_plugins:
            _warned_plugins.add(name)
            errors = "; ".join(plugin["errors"][:3]) + (" ..." if len(plugin["errors"]) > 3 else "")
            show_warning(f"nst_engine plugin {name} has problems and was partly skipped: {errors}")


def figures_table(columns: list[str], *, tooltip: str) -> Table:
    """A read-only table of figures that shows each cell's text as written.

    magicgui's own delegate re-formats numeric text by magnitude (0.2244 beside 9.840e-02 in
    one column); a plain delegate keeps the one format per column that the caller chose.
    """
    table = Table(name="table", label="", columns=columns)
    table.read_only = True
    table.tooltip = tooltip
    table.native.setItemDelegate(QStyledItemDelegate(table.native))
    return table


def kl_ssim_cells(kl: dict | None, ssim: float | None) -> list[Any]:
    """Table cells KL R, KL G, KL B, SSIM (a gray image's one KL fills all three)."""
    kl = kl or {}
    if "gray" in kl:
        kl = {"R": kl["gray"], "G": kl["gray"], "B": kl["gray"]}
    cells = [kl[c] if c in kl else "" for c in ("R", "G", "B")]  # unrounded: the table formats them
    return [*cells, "" if ssim is None else ssim]
