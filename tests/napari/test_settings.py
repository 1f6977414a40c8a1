"""Plugin settings (npe2 configurations) and the once-per-session plugin warnings."""

from __future__ import annotations

import pytest
from npe2 import PluginManifest

from napari_nst._qt import _common
from napari_nst._settings import RunSettings, run_settings

pytestmark = pytest.mark.gui


def test_settings_come_from_napari_preferences(plugin_settings, npe2pm) -> None:
    npe2pm.register(PluginManifest.from_distribution("napari-nst"))
    assert run_settings() == RunSettings()
    from napari.settings import get_plugin_settings

    run = get_plugin_settings("napari-nst").run
    run.threads = 1
    run.preview_interval = 5
    run.device = "cpu"
    assert run_settings() == RunSettings(device="cpu", threads=1, preview_interval=5)
    assert run_settings().torch_threads == 1 and RunSettings().torch_threads is None


def test_settings_fall_back_to_defaults_without_the_plugin(plugin_settings, npe2pm) -> None:
    assert run_settings() == RunSettings()


def test_widget_passes_settings_to_the_engine(images, dock, monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_nst._qt import style_form

    settings = RunSettings(device="cpu", threads=2, preview_interval=7)
    monkeypatch.setattr(style_form, "run_settings", lambda: settings)
    widget = dock("Style Transfer")
    options = widget.engine_options()
    assert options["threads"] == 2 and options["preview_every"] == 7


def test_one_warning_per_broken_plugin_per_session(monkeypatch: pytest.MonkeyPatch, qtbot) -> None:
    shown = []
    monkeypatch.setattr(_common, "show_warning", shown.append)
    monkeypatch.setattr(_common, "_warned_plugins", set())
    plugins = lambda: [  # noqa: E731
        {"name": "nst-broken", "errors": ["import failed: ModuleNotFoundError: No module named 'x'"]},
        {"name": "nst-fine", "errors": []},
    ]
    _common.warn_plugin_errors(plugins, lambda: [])
    _common.warn_plugin_errors(plugins, lambda: [])
    assert len(shown) == 1 and "nst-broken" in shown[0] and "No module named" in shown[0]


def test_a_plugin_list_naming_none_installed_warns_once(monkeypatch: pytest.MonkeyPatch, qtbot) -> None:
    from nst_engine.plugins import PluginProblem

    shown = []
    monkeypatch.setattr(_common, "show_warning", shown.append)
    monkeypatch.setattr(_common, "_warned_plugins", set())
    problems = lambda: [PluginProblem("config", "NST_LOAD_PLUGINS", "NST_LOAD_PLUGINS names nst-typo, ...")]  # noqa: E731
    _common.warn_plugin_errors(lambda: [], problems)
    _common.warn_plugin_errors(lambda: [], problems)
    assert shown == ["nst_engine: NST_LOAD_PLUGINS names nst-typo, ..."]
