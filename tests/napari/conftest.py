"""Fixtures of the napari plugin's tests, built in layers: display -> viewer -> images -> widget.

Tests marked ``gui`` need a display with OpenGL; run them under Xvfb:
``xvfb-run -a -s "-screen 0 1280x1024x24" python -m pytest tests/napari``.
Without a display they are skipped instead of letting Qt abort the whole session.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

try:
    import napari  # noqa: F401
except ImportError:  # the plugin's optional dependencies are not installed
    collect_ignore_glob = ["test_*.py"]

PLUGIN = "napari-nst"

#: Fast, weight-free settings: a run of the widget takes well under a second at this size.
FAST = {"backbone": "random-multiscale", "steps": 4, "size": 48, "scales": 1}


def _has_display() -> bool:
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _has_display():
        return
    skip = pytest.mark.skip(reason="needs a display: run under xvfb-run -a -s '-screen 0 1280x1024x24'")
    for item in items:
        if "gui" in item.keywords and "tests/napari" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture
def fast_previews(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Style Transfer runs on the CPU, one thread, a preview every step, shown at once."""
    from napari_nst._qt import style_form, style_transfer
    from napari_nst._settings import RunSettings

    settings = RunSettings(device="cpu", threads=1, preview_interval=1)
    monkeypatch.setattr(style_form, "run_settings", lambda: settings)
    monkeypatch.setattr(style_transfer, "UI_INTERVAL_MS", 1)
    return settings


@pytest.fixture
def fast() -> dict[str, Any]:
    """Widget settings of a run that takes well under a second (weight-free backbone)."""
    return dict(FAST)


@pytest.fixture
def viewer(make_napari_viewer_proxy: Callable[..., Any], qtbot: Any) -> Any:
    """A viewer behind napari's public-only proxy: touching a layer off the main thread fails.

    Teardown waits for worker threads before napari closes the viewer, so a failed test
    cannot leave a worker writing into a closed (or the next test's) viewer.
    """
    from qtpy.QtCore import QThreadPool

    yield make_napari_viewer_proxy()
    deadline = time.time() + 60
    while not QThreadPool.globalInstance().waitForDone(50) and time.time() < deadline:
        qtbot.wait(10)
    qtbot.wait(10)


@pytest.fixture
def main_window(viewer: Any) -> Callable[[], Any]:
    """``main_window()``: the viewer's Qt main window, through napari's proxy.

    A function, not the window: pytest keeps a test's arguments until after napari's
    teardown, which would then count the window as leaked.
    """

    def window() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # napari warns plugins off private attributes
            return viewer.window._qt_window

    return window


#: The laptop screen the panels must fit (issue: 1280×800 with all three panels docked).
LAPTOP = (1280, 800)


@pytest.fixture
def laptop_viewer(viewer: Any, main_window: Any, qtbot: Any) -> Any:
    """The viewer's main window shown at 1280×800 (the geometry a laptop user has)."""
    window = main_window()
    window.showNormal()
    window.resize(*LAPTOP)
    qtbot.waitExposed(window)
    qtbot.wait(50)
    return viewer


@pytest.fixture
def content_image() -> np.ndarray:
    """A small RGB photo (uint8)."""
    from skimage import data

    return np.ascontiguousarray(data.chelsea()[::6, ::6])


@pytest.fixture
def style_image() -> np.ndarray:
    """A small RGB micrograph (uint8)."""
    from skimage import data

    return np.ascontiguousarray(data.immunohistochemistry()[::8, ::8])


@pytest.fixture
def images(viewer: Any, content_image: np.ndarray, style_image: np.ndarray) -> tuple[Any, Any]:
    """Content and style layers in the viewer, with a scale and translate on the content."""
    content = viewer.add_image(content_image, name="content", rgb=True, scale=(2.0, 2.0), translate=(10.0, -4.0))
    style = viewer.add_image(style_image, name="style", rgb=True)
    return content, style


@pytest.fixture
def dock(viewer: Any) -> Callable[[str], Any]:
    """Open one of the plugin's widgets the way the Plugins menu does."""

    def open_widget(name: str) -> Any:
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        return widget

    return open_widget


@pytest.fixture
def wait_idle(qtbot: Any) -> Callable[..., None]:
    """Wait until a widget's worker has finished (and its signals have been handled)."""

    def wait(widget: Any, timeout: float = 60.0) -> None:
        qtbot.waitUntil(lambda: not widget.running, timeout=int(timeout * 1000))
        qtbot.wait(20)

    return wait


@pytest.fixture
def notifications() -> Any:
    """Notifications napari shows from now on (errors relayed from workers included)."""
    from napari.utils.notifications import NotificationSeverity, notification_manager

    start = len(notification_manager.records)

    class Seen:
        def messages(self) -> list[str]:
            return [str(n.message) for n in notification_manager.records[start:]]

        def errors(self) -> list[str]:
            return [
                str(n.message) for n in notification_manager.records[start:] if n.severity == NotificationSeverity.ERROR
            ]

    return Seen()
