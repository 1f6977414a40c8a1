"""Option forms generated from a registry entry's signature: a plugin's UI for free.

A registered callable's keyword-only, typed options (``nst_engine.entries.Option``) become
widgets: a ``Literal`` or ``choices`` a combo box, ``bool`` a check box, a plain ``int`` a
spin box with its ``Annotated`` bounds, anything else (floats, optional values, tuples) a
line edit whose text :meth:`nst_engine.entries.Entry.bind` parses and validates. Text
keeps floats such as ``1e-6`` or ``1e4`` exact, which a spin box with fixed decimals cannot.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from typing import Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    Label,
    LineEdit,
    SpinBox,
    Widget,
)

from nst_engine import get_entry
from nst_engine.entries import Entry, Option
from nst_engine.errors import OptionError, UnknownEntryError
from nst_engine.pipeline import DEFAULT_LOSSES

__all__ = ["option_widget", "EntryForm", "EntryPicker", "LossWeights", "format_value", "mark_invalid", "doc_params"]

_INT_MIN, _INT_MAX = -(2**31) + 1, 2**31 - 1


def format_value(value: Any) -> str:
    """An option value as the text a line edit shows (and ``Entry.bind`` parses back)."""
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_PARAM = re.compile(r"^(\w+(?:\s*,\s*\w+)*)\s*(?::.*)?$")


def doc_params(doc: str | None) -> dict[str, str]:
    """Parameter descriptions of a numpydoc ``Parameters`` section, by name.

    A plugin that documents its options in its docstring gets tooltips without ``Annotated``.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, str] = {}
    try:
        start = next(i for i, line in enumerate(lines[:-1]) if line.strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"})
    except StopIteration:
        return out
    names: list[str] = []
    for line in lines[start + 2 :]:
        if line and not line[0].isspace():
            if set(line.strip()) == {"-"}:  # the next section's underline: its title was taken as a name
                break
            match = _PARAM.match(line.strip())
            names = [n.strip() for n in match.group(1).split(",")] if match else []
            for name in names:
                out.setdefault(name, "")
        elif line.strip() and names:
            for name in names:
                out[name] = f"{out[name]} {line.strip()}".strip()
    return {name: text for name, text in out.items() if text}


def mark_invalid(widget: Widget, error: str | None) -> None:
    """Show ``error`` beside ``widget`` (red frame, message first in its tooltip), or clear it."""
    native = widget.native
    if not hasattr(native, "_nst_tooltip"):
        native._nst_tooltip = native.toolTip()
    native.setStyleSheet("border: 1px solid #e5534b;" if error else "")
    base = native._nst_tooltip
    native.setToolTip(f"{error}\n\n{base}".strip() if error else base)
    native._nst_error = error


def _tooltip(option: Option, described: dict[str, str] | None = None) -> str:
    help_text = option.help or (described or {}).get(option.name, "")
    parts = [help_text] if help_text else []
    if option.minimum is not None or option.maximum is not None:
        low = "" if option.minimum is None else f"{option.minimum:g}"
        high = "" if option.maximum is None else f"{option.maximum:g}"
        parts.append(f"range [{low}, {high}]")
    if option.sequence:
        parts.append("comma-separated")
    if option.optional:
        parts.append("empty: default")
    return "; ".join(parts)


def option_widget(option: Option, described: dict[str, str] | None = None) -> Widget:
    """One widget for ``option``, named after it, holding its default.

    ``described`` holds the docstring's parameter descriptions, the tooltip when the option's
    annotation gives none.
    """
    common = {"name": option.name, "label": option.name, "tooltip": _tooltip(option, described) or None}
    if option.choices is not None and not option.sequence:
        fallback = None if option.optional else option.choices[0]
        value = option.default if option.default in option.choices else fallback
        return ComboBox(choices=list(option.choices), value=value, nullable=option.optional, **common)
    if option.kind is bool and not option.sequence and not option.optional:
        return CheckBox(value=bool(option.default), **common)
    if option.kind is int and not option.sequence and not option.optional:
        low = _INT_MIN if option.minimum is None else int(option.minimum)
        high = _INT_MAX if option.maximum is None else int(option.maximum)
        return SpinBox(value=int(option.default), min=low, max=high, **common)
    return LineEdit(value=format_value(option.default), **common)


class EntryForm(Container):
    """The options of one registry entry; :meth:`options` returns them validated."""

    def __init__(self, entry: Entry) -> None:
        described = doc_params(getattr(entry.factory, "__doc__", None))
        widgets = [option_widget(o, described) for o in entry.options]
        if not widgets:
            widgets = [Label(value="(no options)")]
        super().__init__(widgets=widgets, labels=True)
        self._entry = entry
        self.margins = (0, 0, 0, 0)
        for option in entry.options:
            self[option.name].changed.connect(lambda *_, name=option.name: self.check(name))

    @property
    def entry(self) -> Entry:
        return self._entry

    def values(self) -> dict[str, Any]:
        """The raw values: widget values, or text for ``Entry.bind`` to parse ('' = None)."""
        out: dict[str, Any] = {}
        for option in self._entry.options:
            value = self[option.name].value
            if isinstance(value, str) and isinstance(self[option.name], LineEdit):
                text = value.strip()
                if option.optional and not text:
                    value = None
                elif option.sequence and not text:
                    value = ()
                else:
                    value = text
            out[option.name] = value
        return out

    def check(self, name: str) -> str | None:
        """Validate one field as it is edited; an error is shown beside it and returned."""
        try:
            self._entry.bind({name: self.values()[name]})
            error = None
        except OptionError as exc:
            error = str(exc)
        mark_invalid(self[name], error)
        return error

    def options(self) -> dict[str, Any]:
        """Validated options; raises ``OptionError`` naming the entry and the option.

        Every bad field is marked, so the user sees all of them, not only the first.
        """
        errors = [self.check(option.name) for option in self._entry.options]
        if any(errors):
            raise OptionError(next(e for e in errors if e))
        return self._entry.bind(self.values())


class EntryPicker:
    """A registry choice and, under it, the options form of the chosen entry.

    Not a container of its own: :attr:`widgets` (the combo box and the form holder) go
    straight into the parent form, so the labels line up. Choices come from the registry
    each time napari resets them, so a plugin installed while napari runs shows up; each
    entry's form is built once and keeps its values.
    """

    def __init__(
        self,
        kind: str,
        *,
        label: str,
        names: Callable[[], list[str]],
        value: str | None = None,
        name: str | None = None,
        form_label: str | None = None,
        tooltip: str = "",
    ) -> None:
        self._kind = kind
        self._names = names
        self._forms: dict[str, EntryForm] = {}
        name = name or kind
        self.choice = ComboBox(name=name, label=label, choices=self._choices, tooltip=tooltip or None)
        self._tooltip = tooltip
        self.holder = Container(name=f"{name}_options", label=form_label or "options", labels=False)
        self.holder.margins = (0, 0, 0, 0)
        if value is not None and value in self.choice.choices:
            self.choice.value = value
        self.choice.changed.connect(self._show)
        self._show()

    @property
    def widgets(self) -> list[Widget]:
        """The widgets to put in the parent form: the choice, then the options form."""
        return [self.choice, self.holder]

    def _choices(self, *_: Any) -> list[str]:
        return list(self._names())

    @property
    def value(self) -> str | None:
        """The chosen entry's name."""
        return self.choice.value

    @value.setter
    def value(self, name: str) -> None:
        self.choice.value = name

    def form(self, name: str | None = None) -> EntryForm | None:
        """The form of ``name`` (default: the chosen entry), built on first use."""
        name = self.choice.value if name is None else name
        if name is None:
            return None
        if name not in self._forms:
            try:
                entry = get_entry(self._kind, name)
            except UnknownEntryError:
                return None
            form = EntryForm(entry)
            form.visible = False
            self._forms[name] = form
            self.holder.append(form)
        return self._forms[name]

    def opened(self) -> list[str]:
        """Names whose forms exist (were shown at least once)."""
        return list(self._forms)

    def _show(self, *_: Any) -> None:
        current = self.form()
        for form in self._forms.values():
            form.visible = form is current
        described = current.entry.description if current is not None else ""
        self.choice.tooltip = "\n".join(t for t in (self._tooltip, described) if t) or None

    def options(self, name: str | None = None) -> dict[str, Any]:
        """Validated options of ``name`` (default: the chosen entry)."""
        form = self.form(name)
        return {} if form is None else form.options()


class LossWeights(Container):
    """A weight per registered loss (0 switches it off), preset to ``DEFAULT_LOSSES``.

    Each row says the loss's role (content, style, image); a picker under the rows shows
    the options of one loss at a time, which keeps a long list of losses tidy.
    """

    def __init__(self, names: list[str], preset: dict[str, float] | None = None) -> None:
        preset = dict(DEFAULT_LOSSES if preset is None else preset)
        self._names = list(names)
        rows = [
            LineEdit(
                name=f"weight_{name}",
                label=name,
                value=format_value(float(preset.get(name, 0.0))),
                tooltip=f"weight of the {name!r} loss ({_role(name)} term); 0 switches it off",
            )
            for name in self._names
        ]
        in_use = next((n for n in self._names if preset.get(n)), None)
        self._picker = EntryPicker(
            "losses", label="options of", names=lambda: self._names, name="loss", value=in_use,
            form_label="loss options",
        )
        super().__init__(widgets=[*rows, *self._picker.widgets], labels=True)
        for name in self._names:
            self[f"weight_{name}"].changed.connect(lambda *_, name=name: self.check(name))

    @property
    def picker(self) -> EntryPicker:
        return self._picker

    def set_weights(self, weights: dict[str, float]) -> None:
        """Set every row: ``weights`` where given, 0 elsewhere."""
        for name in self._names:
            self[f"weight_{name}"].value = format_value(float(weights.get(name, 0.0)))

    def _weight(self, name: str) -> float:
        text = self[f"weight_{name}"].value.strip() or "0"
        try:
            weight = float(text)
        except ValueError:
            raise OptionError(f"the weight of loss {name!r} must be a number >= 0, not {text!r}") from None
        if not (weight >= 0 and math.isfinite(weight)):
            raise OptionError(f"the weight of loss {name!r} must be a finite number >= 0; got {text}")
        return weight

    def check(self, name: str) -> str | None:
        """Validate one weight as it is typed; an error is shown beside it and returned."""
        try:
            self._weight(name)
            error = None
        except OptionError as exc:
            error = str(exc)
        mark_invalid(self[f"weight_{name}"], error)
        return error

    def weights(self) -> dict[str, float]:
        """Nonzero weights by loss name; raises ``OptionError`` on text that is not a weight."""
        errors = [self.check(name) for name in self._names]
        if any(errors):
            raise OptionError(next(e for e in errors if e))
        out = {}
        for name in self._names:
            weight = self._weight(name)
            if weight:
                out[name] = weight
        if not out:
            raise OptionError("every loss weight is 0: give at least one loss a weight, e.g. content 1 and gram 1e4")
        return out

    def loss_options(self, weights: dict[str, float]) -> dict[str, dict[str, Any]]:
        """Validated options of the losses in use whose forms were opened (others: defaults)."""
        return {name: self._picker.options(name) for name in self._picker.opened() if name in weights}


def _role(name: str) -> str:
    try:
        return str(getattr(get_entry("losses", name).factory, "role", "image"))
    except UnknownEntryError:
        return "?"
