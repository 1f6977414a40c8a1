"""What a plugin registers: an entry, whose signature, read once, is its option schema.

After a kind's positional data arguments, keyword-only parameters with a type hint and a
default are options; array-typed ones (masks) are data passed at call time. Bounds and help
come from ``Annotated[T, {"min": ..., "max": ..., "tooltip": ...}]`` (magicgui's own
convention, so the napari forms take them as they are); choices from ``Literal[...]``. The
CLI's ``key=value`` text and napari's fields are parsed and validated by :meth:`Entry.bind`.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, Mapping, Union

import numpy as np

from .errors import OptionError

__all__ = ["KINDS", "Option", "Entry", "kind_label", "make_entry"]

#: Hook kind -> how many positional data arguments its callables take before the options.
KINDS: dict[str, int] = {
    "backbones": 0,
    "losses": 0,
    "optimizers": 1,
    "color_transfers": 2,
    "models": 0,
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Option:
    """One option of a registered callable, as read from its signature."""

    name: str
    annotation: Any
    kind: type
    default: Any
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""
    sequence: bool = False
    optional: bool = False

    def describe(self) -> dict:
        """A JSON-friendly description, as ``nst plugins`` prints it."""
        kind = self.kind.__name__ + ("[]" if self.sequence else "")
        out = {"name": self.name, "type": kind, "default": _jsonable(self.default)}
        for key in ("choices", "minimum", "maximum"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if key == "choices" else value
        if self.help:
            out["help"] = self.help
        return out


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def kind_label(kind: str) -> str:
    """``"color_transfers"`` -> ``"color transfer"``, for messages."""
    return {"losses": "loss"}.get(kind, kind[:-1].replace("_", " "))


@dataclass(frozen=True)
class Entry:
    """One registered backbone, loss, optimizer or color transfer, and where it came from.

    ``arrays`` names the keyword-only array parameters (masks): data the caller passes, not
    options.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    plugin_version: str | None
    description: str = ""
    options: tuple[Option, ...] = field(default=(), repr=False)
    arrays: tuple[str, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """``color transfer 'histogram'``, for messages."""
        return f"{kind_label(self.kind)} {self.name!r}"

    @property
    def origin(self) -> str:
        """``color transfer 'sliced-ot' (plugin example 0.1.0)``: whose entry failed, for messages."""
        version = f" {self.plugin_version}" if self.plugin_version else ""
        return f"{self.label} (plugin {self.plugin}{version})"

    def bind(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``options`` (strings are parsed) against this entry's schema.

        A bad value is an :class:`OptionError` that names the entry and, in ``option``, the
        option as the engine's API spells it (``"optimizer lr"``), for a front end to map.
        """
        try:
            return _bind_options(self.options, options, owner=self.label)
        except OptionError as exc:
            if exc.option is None:
                raise
            raise OptionError(f"{self.label}: {exc}", option=f"{_GROUPS[self.kind](self.name)} {exc.option}") from None

    def create(self, *args: Any, **options: Any) -> Any:
        """Call the factory with data ``args`` and validated ``options``."""
        return self.factory(*args, **self.bind(options))

    def defaults(self) -> dict[str, Any]:
        """The schema's default values, by option name."""
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
) -> Entry:
    """Validate one ``register(name, factory, ...)`` call; raise ``OptionError`` if it is bad."""
    label = kind_label(kind)
    if not isinstance(name, str) or not _NAME.match(name):
        raise OptionError(f"invalid {label} name {name!r}: use lowercase letters, digits, '-', '_', '.'")
    if not callable(factory):
        raise OptionError(f"{label} {name!r}: {factory!r} is not callable")
    try:
        options, arrays = _read_signature(factory, KINDS[kind])
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{label} {name!r}: {exc}") from None
    if not description:
        doc = (getattr(factory, "__doc__", None) or "").strip()
        description = doc.splitlines()[0] if doc else ""
    return Entry(kind, name, factory, plugin, plugin_version, str(description), options, arrays)


def _read_signature(fn: Any, positional: int) -> tuple[tuple[Option, ...], tuple[str, ...]]:
    """The options of ``fn`` and the names of its array parameters, from one inspection.

    Raises ``TypeError`` naming the parameter when the signature cannot serve as a schema.
    """
    target = fn.__init__ if inspect.isclass(fn) else fn
    signature = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # unresolvable forward references
        raise TypeError(f"cannot resolve the type hints of {fn!r}: {exc}") from exc
    params = list(signature.parameters.values())
    data, rest = params[:positional], params[positional:]
    if len(data) < positional or any(
        p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in data
    ):
        raise TypeError(f"{_name(fn)} must take {positional} positional argument(s) first")
    options, arrays = [], []
    for p in rest:
        if p.kind is not p.KEYWORD_ONLY:
            raise TypeError(f"{_name(fn)}: parameter {p.name!r} must be keyword-only (after '*')")
        if p.default is p.empty:
            raise TypeError(f"{_name(fn)}: option {p.name!r} needs a default")
        if p.name not in hints:
            raise TypeError(f"{_name(fn)}: option {p.name!r} needs a type hint")
        if _is_array(hints[p.name]):
            arrays.append(p.name)
        else:
            options.append(_option(p.name, hints[p.name], p.default, fn))
    return tuple(options), tuple(arrays)


def _is_array(hint: Any) -> bool:
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    args = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    return any(a is np.ndarray or typing.get_origin(a) is np.ndarray for a in args)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", repr(fn))


def _option(name: str, annotation: Any, default: Any, fn: Any) -> Option:
    meta: dict = {}
    hint = annotation
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        for extra in extras:
            if isinstance(extra, Mapping):
                meta.update(extra)
    optional = False
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"{_name(fn)}: option {name!r} has an unsupported union type {hint}")
        hint = args[0]
    choices = None
    sequence = False
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        kind = type(choices[0])
    elif typing.get_origin(hint) in (tuple, list):
        sequence = True
        kind = typing.get_args(hint)[0] if typing.get_args(hint) else str
    else:
        kind = hint
    if kind not in _SCALARS:
        raise TypeError(
            f"{_name(fn)}: option {name!r} has type {hint!r}; use bool, int, float, str, "
            "a Literal of those, or a tuple of them"
        )
    return Option(
        name=name,
        annotation=annotation,
        kind=kind,
        default=default,
        choices=tuple(meta["choices"]) if "choices" in meta else choices,
        minimum=meta.get("min"),
        maximum=meta.get("max"),
        help=str(meta.get("tooltip", meta.get("help", ""))),
        sequence=sequence,
        optional=optional,
    )


def _parse_option(option: Option, text: str) -> Any:
    """Turn the command line's ``text`` into a value of the option's type."""
    if option.optional and text.strip().lower() in {"none", ""}:
        return None
    if option.sequence:
        return tuple(_parse_scalar(option, part.strip()) for part in text.split(",") if part.strip())
    return _parse_scalar(option, text.strip())


def _parse_scalar(option: Option, text: str) -> Any:
    if option.kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise OptionError(f"option {option.name!r} takes true or false, not {text!r}", option=option.name)
    try:
        return option.kind(text)
    except ValueError:
        raise OptionError(
            f"option {option.name!r} takes {_article(option.kind)}, not {text!r}", option=option.name
        ) from None


def _article(kind: type) -> str:
    """``int`` -> ``"an int"``, ``float`` -> ``"a float"``."""
    return ("an " if kind.__name__[0] in "aeiou" else "a ") + kind.__name__


#: How ``iter_stylize``'s keywords name an entry's options: ``optimizer_options``, ``loss_options[name]``...
_GROUPS = {
    "backbones": lambda name: "backbone",
    "optimizers": lambda name: "optimizer",
    "losses": lambda name: f"loss_options {name}",
    "color_transfers": lambda name: "color_options",
    "models": lambda name: "model",
}


def _check_scalar(option: Option, value: Any) -> Any:
    if option.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if option.kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, option.kind) or (option.kind is not bool and isinstance(value, bool)):
        raise OptionError(f"option {option.name!r} takes {_article(option.kind)}, not {value!r}", option=option.name)
    if option.choices is not None and value not in option.choices:
        raise OptionError(
            f"option {option.name!r} must be one of {', '.join(map(str, option.choices))}; got {value!r}",
            option=option.name,
        )
    if option.minimum is not None and value < option.minimum:
        raise OptionError(f"option {option.name!r} must be >= {option.minimum}; got {value!r}", option=option.name)
    if option.maximum is not None and value > option.maximum:
        raise OptionError(f"option {option.name!r} must be <= {option.maximum}; got {value!r}", option=option.name)
    return value


def _bind_options(
    schema: tuple[Option, ...], values: Mapping[str, Any], *, owner: str = "this entry"
) -> dict[str, Any]:
    """Validate ``values`` against ``schema``; strings are parsed, the rest type-checked."""
    by_name = {o.name: o for o in schema}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise OptionError(f"{owner} has no option {', '.join(map(repr, unknown))} (options: {known})")
    bound = {}
    for name, value in values.items():
        option = by_name[name]
        if isinstance(value, str) and (option.kind is not str or option.sequence):
            value = _parse_option(option, value)
        if value is None and option.optional:
            bound[name] = None
        elif option.sequence:
            items = (value,) if isinstance(value, _SCALARS) else tuple(value)
            bound[name] = tuple(_check_scalar(option, v) for v in items)
        else:
            bound[name] = _check_scalar(option, value)
    return bound
