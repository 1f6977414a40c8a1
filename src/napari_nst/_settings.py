"""The plugin's settings (npe2 ``configurations`` in ``napari.yaml``), read with fallbacks.

napari >= 0.9 shows them under Preferences and persists them; older napari versions, or a
session where the plugin is not registered with npe2 (a widget built from a script), get
the manifest's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunSettings", "run_settings"]

PLUGIN_NAME = "napari-nst"


@dataclass(frozen=True)
class RunSettings:
    """Defaults of a style transfer run that belong to the machine rather than the image."""

    device: str = "auto"
    threads: int = 0
    preview_interval: int = 10

    @property
    def torch_threads(self) -> int | None:
        """``threads`` as ``iter_stylize`` takes it: 0 means torch's own default."""
        return self.threads or None


def run_settings() -> RunSettings:
    """The current ``run`` settings, or the defaults where napari cannot provide them."""
    try:
        from napari.settings import get_plugin_settings

        run = get_plugin_settings(PLUGIN_NAME).run
        return RunSettings(
            device=str(run.device), threads=int(run.threads), preview_interval=int(run.preview_interval)
        )
    except (ImportError, KeyError, AttributeError):
        return RunSettings()
