"""The batch path without Qt or a cluster: inputs written losslessly, jobs, stacks, failures, cancel, cleanup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_nst import _batch_jobs
from napari_nst._batch_jobs import BatchGroup, BatchRequest, batch_job, write_image
from napari_nst._workers import RunFailed
from nst_engine.batching import runner
from nst_engine.batching.runner import BatchEvent, BatchResult
from nst_engine.batching.summary import job_record
from nst_engine.files import read_image
from nst_engine.files import write_image as write_output


@pytest.mark.parametrize("image", [
    np.random.default_rng(0).random((6, 7, 3), np.float32),
    np.random.default_rng(1).random((6, 7, 4), np.float32),
    np.random.default_rng(2).random((6, 7)),
    np.random.default_rng(3).integers(0, 255, (6, 7, 3), np.uint8),
])
def test_inputs_are_written_losslessly(tmp_path, image) -> None:
    back = read_image(write_image(tmp_path / "plane.tif", image))
    assert back.shape == image.shape
    np.testing.assert_array_equal(back, image.astype(np.float32) if image.dtype == np.float64 else image)


class _Client:
    """What the batch path asks of a ``distributed.Client`` (and of its cluster: ``close``)."""

    def __init__(self) -> None:
        self.futures: dict = {}

    def nthreads(self) -> dict:
        return {"tcp://worker-1": 1, "tcp://worker-2": 1}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_cluster(monkeypatch):
    """``batch`` runs each job here: the result is the content plane (as RGB) times 0.5; a plane
    whose content is all 1 fails. Records what it was given."""
    seen: dict = {"jobs": []}

    def fake_batch(jobs, *, client, return_images, resume, cancel):
        assert return_images and not resume and isinstance(client, _Client) and cancel is not None
        jobs = list(jobs)
        seen["jobs"] = jobs
        records, done, failed = [], 0, 0
        yield BatchEvent("started", None, 0, 0, 0, len(jobs))
        for job in jobs:
            content = read_image(job.content).astype(np.float32)
            if content.min() == 1:
                failed += 1
                records.append(job_record(job, "failed", attempts=1, error="ImageError: all white"))
            else:
                image = np.repeat(content[..., None], 3, axis=-1) * 0.5 if content.ndim == 2 else content * 0.5
                write_output(job.output, image, provenance={"steps_run": 2, "content": job.content, "batch": {}})
                done += 1
                records.append(job_record(job, "done", attempts=1, image=image, seconds=0.1, worker="w"))
            yield BatchEvent(records[-1]["status"], records[-1], done, failed, 0, len(jobs))
        return BatchResult(records, None)

    monkeypatch.setattr(runner, "batch", fake_batch)
    monkeypatch.setattr(_batch_jobs, "_connect", lambda request, jobs: (_Client(), _Client(), 3))  # a client and its local cluster
    return seen


def _drain(generator):
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as end:
            return events, end.value


def _stack() -> np.ndarray:
    return np.stack([np.full((8, 10), v, np.float32) for v in (0.2, 0.4, 1.0, 0.6)])


def test_planes_come_back_in_their_stack_order(fake_cluster) -> None:
    data = _stack().reshape(2, 2, 8, 10)
    group = BatchGroup("stack", data, (0.0, 1.0), ((0, 0), (0, 1), (1, 0), (1, 1)), (2, 2))
    request = BatchRequest("stylize", (group,), (np.zeros((5, 5, 3), np.uint8),),
                           {"steps": 2, "preview_every": 1, "threads": 1})
    events, outcome = _drain(batch_job(request))
    assert [e.kind for e in events] == ["started", "done", "done", "failed", "done"]
    assert events[3].label == "stack plane [1, 0]" and "all white" in events[3].error
    result = outcome.results[0]
    assert result.image.shape == (2, 2, 8, 10, 3)
    np.testing.assert_allclose(result.image[..., 0].mean(axis=(-2, -1)), [[0.1, 0.2], [0.0, 0.3]], atol=1e-4)
    assert [p["status"] for p in result.planes] == ["done", "done", "failed", "done"]
    assert [p["index"] for p in result.planes] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert result.provenance == {"steps_run": 2}  # no temporary file names
    assert outcome.batch["workers"] == 2 and not outcome.cancelled
    jobs = fake_cluster["jobs"]
    assert all(job.options == {"steps": 2, "threads": 3} for job in jobs)  # the cluster's threads, no previews
    assert not Path(jobs[0].content).parent.exists()  # the temporary folder is gone
    np.testing.assert_array_equal(data.reshape(4, 8, 10), _stack())  # the input is untouched


def test_one_result_per_layer(fake_cluster) -> None:
    groups = (BatchGroup("a", np.full((6, 6), 0.4, np.float32), (0.0, 1.0), ((),)),
              BatchGroup("b", np.full((6, 6), 200.0, np.float32), (0.0, 400.0), ((),)))
    _, outcome = _drain(batch_job(BatchRequest("color", groups, (np.zeros((4, 4, 3)),), {"method": "reinhard"})))
    assert [r.group.name for r in outcome.results] == ["a", "b"]
    np.testing.assert_allclose([r.image.max() for r in outcome.results], [0.2, 0.25], atol=1e-4)  # b via its limits
    assert fake_cluster["jobs"][0].options == {"method": "reinhard"}


def test_cancel_returns_what_was_made_and_cleans_up(fake_cluster) -> None:
    request = BatchRequest("stylize", (BatchGroup("stack", _stack(), (0.0, 1.0), ((0,), (1,), (2,), (3,)), (4,)),),
                           (np.zeros((5, 5)),), {})
    generator = batch_job(request)
    assert next(generator).kind == "started" and next(generator).kind == "done"
    request.cancel.set()
    _, outcome = _drain(generator)
    assert outcome.cancelled
    assert [p["status"] for p in outcome.results[0].planes] == ["done", "cancelled", "cancelled", "cancelled"]
    assert not Path(fake_cluster["jobs"][0].content).parent.exists()


def test_a_failing_batch_raises_with_the_cause_and_cleans_up(monkeypatch) -> None:
    folders = []

    def refuse(request, jobs):
        folders.append(Path(jobs[0].content).parent)
        raise OSError("no ports left")

    monkeypatch.setattr(_batch_jobs, "_connect", refuse)
    request = BatchRequest("stylize", (BatchGroup("one", np.zeros((4, 4)), (0.0, 1.0), ((),)),), (np.zeros((4, 4)),))
    with pytest.raises(RunFailed, match="Style transfer failed: OSError: no ports left"):
        _drain(batch_job(request))
    assert folders and not folders[0].exists()
