"""The batch's ``"apply"`` job kind: jobs, hash, resume, per-job failures, worker plugins, memory estimate."""

from __future__ import annotations

import numpy as np
import pytest

from nst_engine.batching.cluster import estimate_job_bytes
from nst_engine.batching.jobs import apply_jobs, job_hash
from nst_engine.batching.plugins_check import required_entries
from nst_engine.batching.runner import run_batch
from nst_engine.files import read_image, read_provenance, write_image
from nst_engine.images import to_uint
from nst_engine.models import johnson, save_model
from nst_engine.models.loading import load_model

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    """A worker thread in this process: the jobs run as on a cluster, without processes to start."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture
def files(tmp_path):
    model = save_model(johnson(seed=1), tmp_path / "model.pt")
    contents = []
    for i in range(2):
        contents.append(tmp_path / f"c{i}.png")
        write_image(contents[-1], np.random.default_rng(i).random((20, 28, 3)))
    return model, contents


def _jobs(model, contents, out, **options):
    return apply_jobs(contents, [out / p.name for p in contents], model=model, model_name="johnson",
                      sha256=load_model(model).provenance["sha256"], options={"size": None, **options})


def test_apply_jobs_write_what_the_model_computes_and_a_rerun_skips_them(client, files, tmp_path):
    model, contents = files
    out = tmp_path / "out"
    jobs = _jobs(model, contents, out)
    result = run_batch(jobs, output_dir=out, client=client)
    assert [r["status"] for r in result.records] == ["done", "done"]
    expected = to_uint(load_model(model).apply(read_image(contents[1])))
    assert np.abs(read_image(out / "c1.png").astype(int) - expected).max() <= 1
    assert read_provenance(out / "c1.png")["batch"]["job_hash"] == job_hash(jobs[1])
    again = run_batch(jobs, output_dir=out, client=client)
    assert [r["status"] for r in again.records] == ["skipped", "skipped"]


def test_a_job_that_fails_is_recorded_and_the_others_finish(client, files, tmp_path):
    model, contents = files
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    out = tmp_path / "out"
    result = run_batch(_jobs(model, [contents[0], broken], out), output_dir=out, client=client, retries=0)
    assert [r["status"] for r in result.records] == ["done", "failed"]
    assert "broken.png" in result.records[1]["error"] and not (out / "broken.png").exists()
    assert (out / "summary.csv").is_file()


def test_the_hash_covers_the_model_and_the_options(files, tmp_path):
    model, contents = files
    first = job_hash(_jobs(model, contents, tmp_path)[0])
    assert job_hash(_jobs(model, contents, tmp_path, style_index=0)[0]) != first
    save_model(johnson(seed=2), model)
    assert job_hash(_jobs(model, contents, tmp_path)[0]) != first


def test_workers_need_the_model_and_the_color_transfer_and_memory_follows_the_size(files, tmp_path):
    model, contents = files
    jobs = _jobs(model, contents, tmp_path, color="after:histogram", size=256)
    assert required_entries(jobs) == {("models", "johnson"), ("color_transfers", "histogram")}
    small, large = estimate_job_bytes(_jobs(model, contents, tmp_path, size=64)), estimate_job_bytes(jobs)
    assert large == pytest.approx(small * 16, rel=0.05)
