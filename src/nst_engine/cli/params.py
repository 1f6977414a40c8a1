"""Parsing the CLI's ``-p KEY=VALUE`` and ``--loss NAME=WEIGHT`` arguments."""

from __future__ import annotations

from typing import Iterable

import click

from ..plugins import list_losses

__all__ = ["split_pairs", "group_options", "loss_weights"]


def split_pairs(pairs: Iterable[str], flag: str, form: str = "KEY=VALUE") -> list[tuple[str, str]]:
    """``["a=1", "b.c=x"]`` -> ``[("a", "1"), ("b.c", "x")]``; a pair without ``=`` is a usage error."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"{flag} takes {form}, got {pair!r}")
        out.append((key.strip(), value))
    return out


def group_options(pairs: Iterable[str], groups: Iterable[str]) -> dict[str, dict[str, str]]:
    """Sort ``GROUP.KEY=VALUE`` pairs into one mapping per group (values stay text).

    The registry entry parses the text against its option schema, so a plugin's options work
    here with no change to the CLI. A group that is neither in ``groups`` nor a registered
    loss is a usage error (a registered loss not in use is the engine's to refuse: it says
    how to add it).
    """
    groups = list(groups)
    out: dict[str, dict[str, str]] = {}
    for key, value in split_pairs(pairs, "-p", "GROUP.KEY=VALUE"):
        group, dot, name = key.partition(".")
        if not dot or not name:
            raise click.UsageError(
                f"-p {key}=...: name the part the option belongs to, as GROUP.OPTION "
                f"where GROUP is one of {', '.join(groups)} (e.g. -p backbone.pooling=avg)"
            )
        if group not in groups and group not in list_losses():
            raise click.UsageError(f"-p {key}=...: unknown group {group!r}; groups are {', '.join(groups)}")
        out.setdefault(group, {})[name] = value
    return out


def loss_weights(defaults: dict[str, float], pairs: Iterable[str]) -> dict[str, float]:
    """Defaults updated by ``NAME=WEIGHT`` pairs; a weight of 0 removes the term."""
    weights = dict(defaults)
    for name, value in split_pairs(pairs, "--loss", "NAME=WEIGHT"):
        try:
            weights[name] = float(value)
        except ValueError:
            raise click.UsageError(f"--loss {name}={value}: the weight must be a number") from None
    return {name: w for name, w in weights.items() if w != 0}
