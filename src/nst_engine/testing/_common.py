"""What every check shares: entries from names or callables, labels and assertion helpers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..entries import Entry

# Small on purpose: every check runs in well under a second, even on VGG-19.
_SOURCE_HW, _REFERENCE_HW, _TENSOR_HW = (12, 16), (10, 14), (32, 32)
# Mean change allowed when an image is recoloured with itself: iterative transfers with
# random rotations (IDT) land near, not exactly on, the identity.
_SELF_TOLERANCE = 0.02


def _entry(kind: str, target: Any) -> Entry:
    """The registry entry of a registered name, or an unregistered callable checked as one."""
    from ..entries import kind_label, make_entry
    from ..errors import OptionError, UnknownEntryError
    from ..plugins import get_entry

    if isinstance(target, str):
        try:
            return get_entry(kind, target)
        except UnknownEntryError as exc:
            raise AssertionError(f"{exc}: install the plugin, or add it for the test with nst_register") from None
    name = re.sub(r"[^a-z0-9_.:-]+", "-", getattr(target, "__name__", "unnamed").lower()).strip("-._:")
    try:
        return make_entry(kind, name or "unnamed", target, plugin="(checked directly)", plugin_version=None)
    except OptionError as exc:
        raise AssertionError(
            f"{exc}: the signature of a {kind_label(kind)} is its option schema (see docs/hooks.md)"
        ) from None


def _label(entry: Entry) -> str:
    return entry.label if entry.plugin.startswith("(") else entry.origin


def _bind(entry: Entry, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` bound by ``entry``'s schema; a refusal fails the check with its message."""
    from ..errors import OptionError

    try:
        return entry.bind(options)
    except OptionError as exc:
        raise AssertionError(str(exc)) from None


def _attempt(label: str, doing: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; turn any exception into an AssertionError saying which check was running."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"{label} raised {type(exc).__name__}: {exc} when {doing}") from exc


def _expect(condition: bool, label: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{label} {message}")

