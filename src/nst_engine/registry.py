"""Registry entries: what a plugin's ``register`` call produces, validated on the spot."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import OptionError
from .options import Option, bind_options, options_of

__all__ = ["KINDS", "Entry", "kind_label", "make_entry"]

#: Hook kind -> how many positional data arguments its callables take before the options.
KINDS: dict[str, int] = {
    "backbones": 0,
    "losses": 0,
    "optimizers": 1,
    "color_transfers": 2,
}

def kind_label(kind: str) -> str:
    """``"color_transfers"`` -> ``"color transfer"``, for messages."""
    return {"losses": "loss"}.get(kind, kind[:-1].replace("_", " "))


_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")


@dataclass(frozen=True)
class Entry:
    """One registered backbone, loss, optimizer or color transfer, and where it came from."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    plugin_version: str | None
    description: str = ""
    options: tuple[Option, ...] = field(default=(), repr=False)

    def bind(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate ``options`` (strings are parsed) against this entry's schema."""
        return bind_options(self.options, options, owner=f"{kind_label(self.kind)} {self.name!r}")

    def create(self, *args: Any, **options: Any) -> Any:
        """Call the factory with data ``args`` and validated ``options``."""
        return self.factory(*args, **self.bind(options))

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def describe(self) -> dict:
        """A JSON-friendly description for ``nst plugins`` and the docs."""
        return {
            "name": self.name,
            "plugin": self.plugin,
            "description": self.description,
            "options": [o.describe() for o in self.options],
        }


def make_entry(
    kind: str,
    name: Any,
    factory: Any,
    *,
    plugin: str,
    plugin_version: str | None,
    description: str = "",
    **unknown: Any,
) -> Entry:
    """Validate one ``register(name, factory, ...)`` call; raise ``OptionError`` if it is bad.

    Unknown keyword arguments are ignored so that plugins written for a newer host still load.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise OptionError(
            f"invalid {kind_label(kind)} name {name!r}: use lowercase letters, digits, '-', '_', '.'"
        )
    if not callable(factory):
        raise OptionError(f"{kind_label(kind)} {name!r}: {factory!r} is not callable")
    try:
        schema = options_of(factory, positional=KINDS[kind])
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{kind_label(kind)} {name!r}: {exc}") from None
    if not description:
        doc = (getattr(factory, "__doc__", None) or "").strip()
        description = doc.splitlines()[0] if doc else ""
    return Entry(kind, name, factory, plugin, plugin_version, str(description), schema)
