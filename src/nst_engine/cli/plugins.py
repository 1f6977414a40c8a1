"""``nst plugins``: what is installed, what it provides, and what went wrong."""

from __future__ import annotations

import json

import click

from ..plugins import get_host


@click.command("plugins")
@click.option("--options", "with_options", is_flag=True, help="Include each entry's option schema.")
def plugins_command(with_options: bool) -> None:
    """Print the installed plugins as JSON: name, version, hooks, provides, errors."""
    host = get_host()
    listing = host.plugins()
    if with_options:
        for plugin in listing:
            plugin["options"] = {
                kind: {name: host.get(kind, name).describe()["options"] for name in names}
                for kind, names in plugin["provides"].items()
                if names
            }
    click.echo(json.dumps(listing, indent=2, default=str))
