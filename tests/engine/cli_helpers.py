"""Running the ``nst`` command in-process, as the CLI tests do, or as a process to signal."""

import subprocess
import sys
import threading

from nst_engine.cli import main


def run(argv, capsys):
    """Exit code, stdout and stderr of ``nst ARGV``."""
    try:
        main(argv)
    except SystemExit as done:
        out, err = capsys.readouterr()
        return done.code, out, err
    raise AssertionError("nst returned without exiting")


def start_long_run(output):
    """An ``nst stylize`` process writing ``output``, returned once its steps are running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "nst_engine.cli", "stylize", "--sample", "-o", str(output),
         "--backbone", "random-multiscale", "--steps", "100000", "--size", "64", "--scales", "1"],
        stderr=subprocess.PIPE, text=True)
    progress = threading.Event()

    def watch():
        while (char := process.stderr.read(1)):
            if char == "/":  # tqdm's "N/100000" appears once steps run
                progress.set()

    threading.Thread(target=watch, daemon=True).start()
    if not progress.wait(timeout=120):
        process.kill()
        raise AssertionError("nst stylize showed no progress within 120 s")
    return process
