"""The engine names an option as the API spells it (``"optimizer lr"``); a CLI user needs the flag."""

from __future__ import annotations

import click

__all__ = ["flag_for_option"]

#: Engine options whose flag is not simply the name with dashes.
_RENAMED = {"style_weights": "--style-weight"}


def _flags(command: click.Command) -> set[str]:
    return {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts}


def flag_for_option(option: str, command: click.Command | None) -> str | None:
    """How ``command`` sets the engine option ``option`` (``"-p optimizer.lr=VALUE"``); ``None`` if it cannot."""
    if command is None or not option.strip():
        return None
    flags = _flags(command)
    head, *rest = option.replace(".", " ").split()
    if head == "losses":
        spelled = f"--loss {rest[0] if rest else 'NAME'}=WEIGHT"
    elif rest:
        group = rest.pop(0) if head == "loss_options" else head.removesuffix("_options")
        key = ".".join(rest) or "KEY"
        # nst color's -p takes the transfer's own keys, without a group.
        spelled = f"-p {key}=VALUE" if command.name == "color" else f"-p {group}.{key}=VALUE"
    else:
        spelled = _RENAMED.get(head, "--" + head.replace("_", "-"))
    return spelled if spelled.split()[0].split("=")[0] in flags else None
