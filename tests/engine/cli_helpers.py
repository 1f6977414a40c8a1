"""Running the ``nst`` command in-process, as the CLI tests do."""

from nst_engine.cli import main


def run(argv, capsys):
    """Exit code, stdout and stderr of ``nst ARGV``."""
    try:
        main(argv)
    except SystemExit as done:
        out, err = capsys.readouterr()
        return done.code, out, err
    raise AssertionError("nst returned without exiting")
