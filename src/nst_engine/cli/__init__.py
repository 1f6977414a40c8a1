"""The ``nst`` command: a click group whose subcommands plugins may extend.

Exit codes: 0 success, 1 error (one line; ``--debug`` for the traceback), 2 usage error,
130 interrupted (SIGINT), 143 terminated (SIGTERM); interrupted or terminated, no partial
output or temporary file is left.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import traceback
from typing import Iterator

import click

from ..plugins import get_host
from ..errors import NstError
from .apply import apply_command
from .batch import batch_group
from .color import color_command
from .evaluate import evaluate_command
from .option_flags import flag_for_option
from .plugins import plugins_command
from .report import report_command
from .stylize import stylize_command
from .train import train_command
from .video import video_command

__all__ = ["build_cli", "main"]


def build_cli() -> click.Group:
    """The ``nst`` group: built-in commands, then each plugin's ``register_commands(cli)``."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="napari-nst", prog_name="nst")
    @click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
    def cli(debug: bool) -> None:
        """Neural style transfer and color transfer from the command line."""
        logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s")

    commands = (stylize_command, video_command, train_command, apply_command, color_command, evaluate_command,
                report_command, plugins_command, batch_group)
    for command in commands:
        cli.add_command(command)
    get_host().add_commands(cli)
    return cli


class _Terminated(KeyboardInterrupt):
    """SIGTERM raised where SIGINT raises, so that the same cleanup runs on the way out."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _command(cli: click.Group, argv: list[str]) -> click.Command | None:
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    return cli.commands.get(name) if name else None


def _message(exc: Exception, command: click.Command | None) -> str:
    """One line; an error about an engine option also says the flag that sets it."""
    option = getattr(exc, "option", None)
    flag = flag_for_option(option, command) if isinstance(option, str) else None
    return f"error: {exc}" + (f" (set with {flag})" if flag else "")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group and map failures to exit codes."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    cli = None
    try:
        with _sigterm_as_interrupt():
            cli = build_cli()
            code = cli.main(args=argv, prog_name="nst", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        terminated = isinstance(exc, _Terminated) or isinstance(exc.__cause__, _Terminated)
        click.echo("terminated" if terminated else "interrupted", err=True)
        sys.exit(143 if terminated else 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (NstError, OSError, ValueError, RuntimeError, FloatingPointError) as exc:
        if debug:
            traceback.print_exc()
        click.echo(_message(exc, _command(cli, argv) if cli else None), err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
