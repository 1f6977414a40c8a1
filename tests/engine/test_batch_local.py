"""nst_engine.batch on a real LocalCluster (worker processes): both tasks, resume, retries, plugins."""

from __future__ import annotations

import os
import threading
import time

import pytest

from batch_helpers import (TINY_OPTIONS, assert_whole, images, install_on_workers, interrupted_slow_batch, summary,
                           write_plugin)
from nst_engine.batching.jobs import cross_jobs
from nst_engine.batching.runner import batch, run_batch
from nst_engine.errors import PluginError
from nst_engine.files import read_provenance

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Two single-threaded worker processes, shared by this module's tests (each start costs seconds)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       memory_limit=0)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    return write_plugin(tmp_path_factory.mktemp("plugin"))


def _color(contents, style, out, method="reinhard", **options):
    return cross_jobs("color", contents, [style], output_dir=out, options={"method": method, "options": options})


def test_a_batch_of_both_tasks_runs_on_worker_processes(client, tmp_path):
    contents = images(tmp_path / "in", 3)
    style = tmp_path / "in" / "style.png"
    out = tmp_path / "out"
    out.mkdir()
    jobs = _color(contents, style, out) + cross_jobs("stylize", contents[:2], [style], output_dir=out,
                                                     options=TINY_OPTIONS, name="{content}__{style}__nst.png")
    events = list(batch(jobs, client=client, output_dir=out, evaluate=True))
    done = [e for e in events if e.kind == "done"]
    assert len(done) == 5 and done[-1].done == 5 and done[-1].failed == 0
    assert {e.record["worker"] for e in done} <= set(client.nthreads())
    assert len({e.record["pid"] for e in done}) == 2  # processes, not threads of this one
    outputs = assert_whole(out)
    assert [p.name for p in outputs] == ["c0__style.png", "c0__style__nst.png", "c1__style.png",
                                         "c1__style__nst.png", "c2__style.png"]
    stylized = read_provenance(out / "c0__style__nst.png")
    assert stylized["options"]["steps"] == 3 and stylized["content"] == str(contents[0])
    assert read_provenance(out / "c2__style.png")["method"] == "reinhard"
    rows = (out / "summary.csv").read_text().splitlines()
    assert rows[0].startswith("job,task,content,style,plane,status,output,attempts,seconds,peak_memory_mb,worker,error")
    assert "ssim" in rows[0] and "gram_distance" in rows[0] and len(rows) == 6
    assert all(e.record["peak_memory_mb"] > 50 for e in done)


def test_a_rerun_skips_finished_jobs_and_redoes_one_whose_options_changed(client, tmp_path):
    contents = images(tmp_path / "in", 3)
    style = tmp_path / "in" / "style.png"
    out = tmp_path / "out"
    out.mkdir()
    run_batch(_color(contents, style, out), client=client, output_dir=out)
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    jobs = _color(contents, style, out)
    jobs[1] = _color(contents[1:2], style, out, method="histogram")[0]
    result = run_batch(jobs, client=client, output_dir=out)
    assert [r["status"] for r in result.records] == ["skipped", "done", "skipped"]
    assert read_provenance(out / "c1__style.png")["method"] == "histogram"
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}["c0__style.png"] == first["c0__style.png"]
    (out / "c2__style.png.json").write_text("{}")  # a sidecar without this job's hash: not finished
    statuses = [r["status"] for r in run_batch(_color(contents, style, out), client=client, output_dir=out).records]
    assert statuses == ["skipped", "done", "done"]  # c1 changed method back, c2 lost its hash


def test_a_failing_job_is_retried_then_recorded_and_the_others_finish(client, plugin_dir, tmp_path):
    install_on_workers(client, plugin_dir)
    contents = images(tmp_path / "in", 3)
    style = tmp_path / "in" / "style.png"
    out = tmp_path / "out"
    out.mkdir()
    log = tmp_path / "calls.txt"
    jobs = _color(contents, style, out)
    jobs[1] = _color(contents[1:2], style, out, method="flaky", log=str(log))[0]
    result = run_batch(jobs, client=client, output_dir=out, retries=2)
    failed = result.records[1]
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert "flaky always fails" in failed["error"]
    assert log.read_text().count("call") == 3
    assert [r["status"] for r in result.records] == ["done", "failed", "done"]
    assert [p.name for p in assert_whole(out)] == ["c0__style.png", "c2__style.png"]


def test_a_cancel_event_stops_the_batch_at_once_and_keeps_the_finished_outputs(client, plugin_dir, tmp_path):
    install_on_workers(client, plugin_dir)
    contents = images(tmp_path / "in", 6)
    style = tmp_path / "in" / "style.png"
    out = tmp_path / "out"
    out.mkdir()
    cancel = threading.Event()
    jobs = _color(contents[:1], style, out) + _color(contents[1:], style, out, method="slow", seconds=30)
    events, started = batch(jobs, client=client, output_dir=out, cancel=cancel), None
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            result = done.value
            break
        if event.kind == "done" and started is None:  # the quick job: cancel while the slow ones run
            started = time.perf_counter()
            cancel.set()
    assert time.perf_counter() - started < 10  # not the 30 s a slow job takes
    assert [r["status"] for r in result.records] == ["done"] + ["cancelled"] * 5
    assert [row["status"] for row in summary(out).values()] == ["done"] + ["cancelled"] * 5
    assert [p.name for p in assert_whole(out)] == ["c0__style.png"]


def test_a_worker_without_a_required_plugin_is_named(client, plugin_dir, tmp_path):
    client.restart()  # fresh worker processes: neither has the test plugin yet
    workers = sorted(client.nthreads())
    install_on_workers(client, plugin_dir, workers=workers[:1])
    contents = images(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    jobs = _color(contents, tmp_path / "in" / "style.png", out, method="slow", seconds=0)
    with pytest.raises(PluginError) as error:
        run_batch(jobs, client=client, output_dir=out)
    assert f"worker {workers[1]} lacks color transfer 'slow'" in str(error.value)
    assert workers[0] not in str(error.value)
    assert not list(out.glob("*.png"))


def test_ctrl_c_on_a_local_cluster_keeps_whole_outputs_and_exits_130(plugin_dir, tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: the CLI and its worker processes."""
    pythonpath = os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])
    code, err, out = interrupted_slow_batch(tmp_path, 6, "-p", "seconds=1", "--workers", "1", group=True,
                                            env={"PYTHONPATH": pythonpath})
    assert code == 130, err
    outputs = assert_whole(out)
    assert 1 <= len(outputs) < 6
    statuses = [row["status"] for row in summary(out).values()]
    assert statuses.count("done") <= len(outputs) and "cancelled" in statuses  # a job may end as it is cancelled
