"""Exceptions the engine raises on purpose: each message names the problem and the fix."""

from __future__ import annotations

__all__ = [
    "NstError",
    "ImageError",
    "OptionError",
    "PluginError",
    "ResourceError",
    "UnknownEntryError",
    "WeightsUnavailableError",
]


class NstError(Exception):
    """Base class: the CLI prints these as one line, without a traceback.

    ``option`` names the option that fixes it as the engine knows it (``"steps"``, ``"optimizer
    lr"``, ``"encoder"``), so that a front end can point at its own spelling (a CLI flag, a form
    field); ``None`` if no one.
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class ImageError(NstError, ValueError):
    """An input image cannot be used as given."""


class OptionError(NstError, ValueError):
    """An option has an unknown name, a wrong type or an out-of-range value (``option`` names it)."""


class UnknownEntryError(OptionError, KeyError):
    """No backbone, loss, optimizer or color transfer of that name is registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginError(NstError):
    """A plugin failed to load, register, or behave at call time."""


class ResourceError(NstError, MemoryError):
    """A run would not fit in the memory available; the message says what to change."""


class WeightsUnavailableError(NstError):
    """Pretrained weights are neither cached nor downloadable, or a file needs others not given."""
