"""Batch test kit: tiny images, a plugin with slow and failing color transfers, Dask processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from nst_engine.files import read_image, read_provenance, write_image

#: A style transfer that takes about a second on one core.
TINY_STYLIZE = ["--backbone", "random-multiscale", "--size", "64", "--scales", "1", "--steps", "3", "--until", "steps"]
TINY_OPTIONS = {"backbone": "random-multiscale", "size": 64, "scales": 1, "steps": 3, "until": "steps"}

PLUGIN = '''
import time
from pathlib import Path

from nst_engine import hookimpl

NST_ENGINE_API = "1.0"


def slow(source, reference, *, seconds: float = 1.0):
    """Waits, then returns the source: a job long enough to interrupt."""
    time.sleep(seconds)
    return source.copy()


def flaky(source, reference, *, log: str = ""):
    """Counts its calls in ``log``, then fails."""
    with open(log, "a") as stream:
        stream.write("call\\n")
    raise RuntimeError("flaky always fails")


@hookimpl
def register_color_transfers(register):
    register("slow", slow)
    register("flaky", flaky)
'''


def write_plugin(folder: Path, *, version: str = "1.0") -> Path:
    """Install the plugin ``nst-batch-test`` into ``folder`` (a sys.path entry); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nst_batch_test.py").write_text(textwrap.dedent(PLUGIN))
    info = folder / f"nst_batch_test-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: nst-batch-test\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[nst_engine]\nnst-batch-test = nst_batch_test\n")
    return folder


def install_on_workers(client, folder: Path, workers=None) -> None:
    """Make the plugin in ``folder`` visible to (some) workers, as a pip install there would."""

    def install(path=str(folder)):
        import importlib

        from nst_engine import set_host

        if path not in sys.path:
            sys.path.insert(0, path)
        importlib.invalidate_caches()
        set_host(None)

    client.run(install, workers=workers)


def images(folder: Path, count: int, *, seed: int = 0) -> list[Path]:
    """``count`` random 64² RGB images ``c0.png`` … and a style ``style.png``; returns the contents."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    write_image(folder / "style.png", rng.random((64, 64, 3)))
    paths = [folder / f"c{i}.png" for i in range(count)]
    for path in paths:
        write_image(path, rng.random((64, 64, 3)))
    return paths


def assert_whole(folder: Path) -> list[Path]:
    """Every output in ``folder`` reads, has its sidecar with a job hash, and no temporary is left."""
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers
    outputs = sorted(p for p in folder.glob("*.png"))
    for output in outputs:
        assert read_image(output).shape[:2] == (64, 64)
        assert read_provenance(output)["batch"]["job_hash"]
    return outputs


def summary(folder: Path) -> dict[str, dict]:
    """``summary.json``'s rows by job label."""
    return {row["job"]: row for row in json.loads((folder / "summary.json").read_text())}


def interrupted_slow_batch(folder: Path, count: int, *options: str, group: bool = False, env: dict | None = None):
    """Run ``nst batch color`` with the slow transfer on ``count`` images in ``folder``, send
    SIGINT (to the process group with ``group``: a terminal's Ctrl-C) once the first output
    exists; returns the exit code, stderr and the output folder."""
    images(folder / "in", count)
    out = folder / "out"
    process = subprocess.Popen(
        [sys.executable, "-c", "from nst_engine.cli import main; main()", "batch", "color", "--content",
         str(folder / "in" / "c*.png"), "--style", str(folder / "in" / "style.png"), "-o", str(out),
         "-m", "slow", "-q", *options],
        stderr=subprocess.PIPE, text=True, start_new_session=group, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    while not list(out.glob("*.png")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    if group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    return process.returncode, err, out


class DaskProcesses:
    """``dask scheduler --port 0`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, folder: Path, *, workers: int, env: dict | None = None) -> None:
        self.file = folder / "scheduler.json"
        self.env = {**os.environ, **(env or {})}
        self.processes = [self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(self.file))]
        self.workers = [self._start("worker", "--scheduler-file", str(self.file), "--nthreads", "1", "--no-nanny",
                                    "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "0")
                        for _ in range(workers)]
        self.processes += self.workers

    def _start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def address(self) -> str:
        return json.loads(self.file.read_text())["address"]

    def client(self, workers: int):
        """A client, once ``workers`` workers have joined."""
        from distributed import Client

        deadline = time.monotonic() + 120
        while not self.file.is_file():
            assert time.monotonic() < deadline, "dask scheduler wrote no scheduler file"
            time.sleep(0.2)
        client = Client(self.address, timeout=30)
        client.wait_for_workers(workers, timeout=120)
        return client

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
