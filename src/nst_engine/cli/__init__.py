"""The ``nst`` command: a click group whose subcommands plugins may extend.

Exit codes: 0 success, 1 error (one line; ``--debug`` for the traceback), 2 usage error,
130 interrupted (and no partial output file).
"""

from __future__ import annotations

import logging
import sys
import traceback

import click

from ..catalog import get_host
from ..errors import NstError
from .color import color_command
from .evaluate import evaluate_command
from .plugins import plugins_command
from .report import report_command
from .stylize import stylize_command

__all__ = ["build_cli", "main"]


def build_cli() -> click.Group:
    """The ``nst`` group: built-in commands, then each plugin's ``register_commands(cli)``."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="napari-nst", prog_name="nst")
    @click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
    def cli(debug: bool) -> None:
        """Neural style transfer and color transfer from the command line."""
        logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s")

    for command in (stylize_command, color_command, evaluate_command, report_command, plugins_command):
        cli.add_command(command)
    get_host().add_commands(cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group and map failures to exit codes."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        code = build_cli().main(args=argv, prog_name="nst", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (NstError, OSError, ValueError, RuntimeError, FloatingPointError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
