"""nst batch through --scheduler: a real ``dask scheduler`` and two ``dask worker`` processes.

The module shares one scheduler and its workers (each start imports torch: seconds); the
test that kills a worker runs last.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from batch_helpers import (TINY_STYLIZE, DaskProcesses, assert_whole, images, interrupted_slow_batch, summary,
                           write_plugin)
from cli_helpers import run
from nst_engine.batching.jobs import cross_jobs
from nst_engine.batching.runner import run_batch
from nst_engine.files import read_image

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask(tmp_path_factory):
    plugin = write_plugin(tmp_path_factory.mktemp("plugin"))
    processes = DaskProcesses(tmp_path_factory.mktemp("dask"), workers=2, env={"PYTHONPATH": str(plugin)})
    try:
        client = processes.client(2)
        yield processes, client
        client.close()
    finally:
        processes.close()


def test_a_manifest_runs_through_the_scheduler_and_its_bad_rows_are_reported(dask, tmp_path, capsys):
    processes, _ = dask
    contents = images(tmp_path, 3)
    (tmp_path / "jobs.csv").write_text(
        "content,style,size,output,stepz\n"
        "c0.png,style.png,48,,\n"
        "missing.png,style.png,,,\n"
        "c1.png,style.png,,,3\n"
        "c2.png,style.png,,out/two.png,\n")
    out = tmp_path / "out"
    code, _, err = run(["batch", "stylize", "--manifest", str(tmp_path / "jobs.csv"), "-o", str(out),
                        "--scheduler", processes.address, "-q", *TINY_STYLIZE], capsys)
    assert code == 1, err
    assert "row 3: invalid: no such file: " + str(tmp_path / "missing.png") in err
    assert "row 4: invalid: unknown option 'stepz'" in err
    assert "2 done, 0 skipped, 2 failed" in err
    rows = summary(out)
    assert [rows[f"row {i}"]["status"] for i in (2, 3, 4, 5)] == ["done", "invalid", "invalid", "done"]
    assert {rows["row 2"]["worker"], rows["row 5"]["worker"]} <= set(dask[1].nthreads())
    assert read_image(out / "c0__style.png").shape[:2] == (48, 48)  # the row's size over --size 64
    assert read_image(out / "two.png").shape[:2] == (64, 64)
    assert contents[1].is_file() and not (out / "c1__style.png").exists()


def test_dask_scheduler_address_is_used_without_the_flag(dask, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask[0].address)
    images(tmp_path / "in", 2)
    code, _, err = run(["batch", "color", "--content", str(tmp_path / "in" / "c*.png"), "--style",
                        str(tmp_path / "in" / "style.png"), "-o", str(tmp_path / "out"), "-m", "reinhard", "-q"], capsys)
    assert code == 0, err
    assert {row["worker"] for row in summary(tmp_path / "out").values()} <= set(dask[1].nthreads())


def test_sigint_cancels_the_batch_and_leaves_only_whole_outputs(dask, tmp_path):
    code, err, out = interrupted_slow_batch(tmp_path, 8, "-p", "seconds=1.5", "--scheduler", dask[0].address)
    assert code == 130, err
    assert "interrupted" in err
    time.sleep(2)  # a job the workers had started may still finish: whole, or not at all
    outputs = assert_whole(out)
    assert 1 <= len(outputs) < 8
    statuses = [row["status"] for row in summary(out).values()]
    assert statuses.count("cancelled") >= 8 - len(outputs) - 2 and "cancelled" in statuses


def test_a_worker_killed_mid_job_loses_nothing(dask, tmp_path):
    processes, client = dask
    contents = images(tmp_path / "in", 4)
    out = tmp_path / "out"
    out.mkdir()
    jobs = cross_jobs("color", contents, [tmp_path / "in" / "style.png"], output_dir=out,
                      options={"method": "slow", "options": {"seconds": 2}})
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                time.sleep(0.5)  # inside the job's sleep, before it writes
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    result = run_batch(jobs, client=client, output_dir=out)
    killer.join()
    assert killed
    assert [r["status"] for r in result.records] == ["done"] * 4
    assert all(r["worker"] != killed[0] for r in result.records)  # its job was rerun on the other
    assert len(assert_whole(out)) == 4
