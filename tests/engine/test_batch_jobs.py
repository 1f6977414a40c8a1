"""Batch jobs without a cluster: manifests, names, planes, the resume hash, sizing, plugin checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from batch_helpers import images
from nst_engine.batching.cluster import size_local_cluster
from nst_engine.batching.jobs import Job, check_jobs, cross_jobs, job_hash, output_name, read_manifest
from nst_engine.batching.plugins_check import plugin_problems, required_entries
from nst_engine.batching.runner import is_finished
from nst_engine.batching.tasks import run_job
from nst_engine.errors import OptionError
from nst_engine.files import read_provenance


def test_a_csv_manifest_gives_rows_with_files_relative_to_it(tmp_path):
    (tmp_path / "m.csv").write_text("content,style,output,steps,backbone.pooling\n"
                                    "a.png,s1.png;s2.png,,30,avg\n,s.png,,,\n")
    first, second = read_manifest(tmp_path / "m.csv")
    assert (first.number, first.content) == (2, str(tmp_path / "a.png"))
    assert first.styles == (str(tmp_path / "s1.png"), str(tmp_path / "s2.png"))
    assert first.options == {"steps": "30", "backbone.pooling": "avg"} and first.output is None
    assert second.error == "needs a content and a style"


def test_a_jsonl_manifest_takes_style_lists_and_reports_a_broken_line(tmp_path):
    (tmp_path / "m.jsonl").write_text(json.dumps({"content": "/x/a.png", "style": ["s.png"], "size": 128,
                                                  "output": "o/a.png"}) + "\n{oops\n")
    row, broken = read_manifest(tmp_path / "m.jsonl")
    assert row.styles == (str(tmp_path / "s.png"),) and row.options == {"size": "128"}
    assert row.content == "/x/a.png" and row.output == str(tmp_path / "o" / "a.png")
    assert broken.number == 2 and broken.error.startswith("not JSON")


def test_names_follow_the_template_and_a_bad_field_is_named():
    assert output_name("{content}__{style}.png", content="/a/cat.tif", styles=["x/s1.png", "s2.jpg"], plane=None,
                       index=0) == "cat__s1+s2.png"
    assert output_name("{index:03d}_{plane}.png", content="c.tif", styles=["s.png"], plane=7, index=4) == "004_0007.png"
    with pytest.raises(OptionError, match=r"\{colour\}|'colour'"):
        output_name("{colour}.png", content="c", styles=["s"], plane=None, index=0)


def test_planes_are_jobs_and_a_worker_reads_only_its_plane(tmp_path):
    images(tmp_path, 0)
    stack = np.stack([np.full((64, 64, 3), v, np.uint8) for v in (10, 120, 240)])
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="rgb")
    jobs = cross_jobs("color", [tmp_path / "stack.tif"], [tmp_path / "style.png"], output_dir=tmp_path,
                      options={"method": "reinhard", "options": {}}, planes=True)
    assert [(j.plane, os.path.basename(j.output)) for j in jobs] == [
        (0, "stack_0000__style.png"), (1, "stack_0001__style.png"), (2, "stack_0002__style.png")]
    record = run_job(jobs[1], job_hash(jobs[1]), return_image=True)
    assert record["worker"] == "local" and record["image"].shape == (64, 64, 3)
    assert read_provenance(jobs[1].output)["batch"] == {"job_hash": job_hash(jobs[1]), "plane": 1, "row": None}
    assert is_finished(jobs[1], job_hash(jobs[1])) and not is_finished(jobs[0], job_hash(jobs[0]))


def test_the_hash_follows_options_and_the_inputs_identity(tmp_path):
    content, = images(tmp_path, 1)
    job = Job("color", str(content), (str(tmp_path / "style.png"),), str(tmp_path / "o.png"), {"method": "reinhard"})
    before = job_hash(job)
    assert job_hash(Job(**{**job.__dict__, "output": str(tmp_path / "p.png")})) == before
    assert job_hash(Job(**{**job.__dict__, "options": {"method": "histogram"}})) != before
    os.utime(content, ns=(1, 1))
    assert job_hash(job) != before


def test_missing_inputs_and_shared_outputs_are_errors_of_their_job(tmp_path):
    content, = images(tmp_path, 1)
    style = str(tmp_path / "style.png")
    jobs = check_jobs([Job("color", str(content), (style,), str(tmp_path / "o.png")),
                       Job("color", str(tmp_path / "gone.png"), (style,), str(tmp_path / "p.png")),
                       Job("color", str(content), (style,), str(tmp_path / "o.png"), row=4),
                       Job("color", str(content), (style,), str(tmp_path / "o.txt"))])
    assert [j.error for j in jobs[:1]] == [None]
    assert jobs[1].error == f"no such file: {tmp_path / 'gone.png'}"
    assert jobs[2].error == f"same output as o.png: {tmp_path / 'o.png'}"
    assert "use a .png" in jobs[3].error


def test_an_output_that_is_another_jobs_input_is_an_error_of_its_job(tmp_path):
    first, second = images(tmp_path, 2)
    style = str(tmp_path / "style.png")
    jobs = check_jobs([Job("color", str(first), (style,), str(tmp_path / "o.png")),
                       Job("color", str(second), (style,), str(first)),
                       Job("color", str(second), (style,), style)])
    assert jobs[0].error is None
    assert jobs[1].error == f"output {first} is the input {first}, which is never overwritten; choose another output folder or name"
    assert jobs[2].error.startswith(f"output {style} is the input {style}")


def test_the_local_cluster_fits_the_cores_and_the_memory():
    gib = 2**30
    assert size_local_cluster(job_bytes=gib // 4, cores=8, available=64 * gib) == size_local_cluster(
        job_bytes=gib // 4, cores=8, available=64 * gib, workers=8)
    plenty = size_local_cluster(job_bytes=gib // 4, cores=8, available=64 * gib, threads=2)
    assert (plenty.workers, plenty.threads, plenty.torch_threads) == (4, 2, 1)
    tight = size_local_cluster(job_bytes=4 * gib, cores=8, available=20 * gib)
    assert tight.workers == 2 and tight.torch_threads == 4  # 7.5 GiB per worker: two fit in 90 % of 20
    assert tight.memory_limit == int(1.5 * gib + 6 * gib)
    assert size_local_cluster(job_bytes=64 * gib, cores=4, available=gib).workers == 1


def test_required_plugins_and_what_a_worker_lacks():
    jobs = [Job("stylize", "c", ("s",), "o", {"backbone": "random-multiscale", "optimizer": "adam",
                                             "losses": {"content": 1, "gram": 1e4}, "color": "after:idt"}),
            Job("color", "c", ("s",), "p", {"method": "slow"}), Job("color", "c", ("s",), "q", {"method": "x"}, error="bad")]
    assert required_entries(jobs) == {("backbones", "random-multiscale"), ("optimizers", "adam"), ("losses", "content"),
                                      ("losses", "gram"), ("color_transfers", "idt"), ("color_transfers", "slow")}
    here = {"color_transfers": {"slow": ["nst-batch-test", "2.0"], "idt": ["nst_engine", None]}}
    workers = {"tcp://a:1": {"color_transfers": {"slow": ["nst-batch-test", "1.0"], "idt": ["nst_engine", None]}},
               "tcp://b:2": {"color_transfers": {"idt": ["nst_engine", None]}}}
    assert plugin_problems({("color_transfers", "slow"), ("color_transfers", "idt")}, workers, here) == [
        "worker tcp://a:1 has color transfer 'slow' from plugin nst-batch-test 1.0, this client nst-batch-test 2.0",
        "worker tcp://b:2 lacks color transfer 'slow' (plugin nst-batch-test 2.0)",
    ]


def test_nst_engine_batch_is_there_without_importing_torch_or_dask():
    script = ("import sys, nst_engine; f = nst_engine.batch; g = nst_engine.run_batch; "
              "print(callable(f), callable(g), 'torch' in sys.modules, 'distributed' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "True", "False", "False"], done.stderr


def _cli_jobs(command, task, argv, to_options):
    from nst_engine.cli.batch import _WHERE, _jobs

    with command.make_context(task, argv) as ctx:
        values = dict(ctx.params)
        where = {k: values.pop(k) for k in _WHERE}
        return _jobs(task, where, values, to_options, *([] if task == "stylize" else [lambda column: column == "iterations"]))


def test_manifest_columns_override_the_command_line_options_per_row(tmp_path):
    from nst_engine.cli.batch import batch_color, batch_stylize
    from nst_engine.cli.stylize import stylize_options

    (tmp_path / "m.csv").write_text("content,style,steps,loss,backbone.channels,style-scale\n"
                                    "a.png,s.png,7,gram=1e3;tv=2,8,0.5\n"
                                    "b.png,s.png,,,,\n"
                                    "c.png,s.png,many,,,\n")
    first, second, third = _cli_jobs(batch_stylize, "stylize", ["--manifest", str(tmp_path / "m.csv"), "-o",
                                                                str(tmp_path), "--steps", "4", "-p", "backbone.seed=3"],
                                     lambda v: stylize_options(**v))
    assert first.options["steps"] == 7 and first.options["style_scale"] == 0.5
    assert first.options["losses"] == {"content": 1, "gram": 1e3, "tv": 2}
    assert first.options["backbone_options"] == {"seed": "3", "channels": "8"}
    assert second.options["steps"] == 4 and second.options["losses"] == {"content": 1, "gram": 1e4, "tv": 1}
    assert third.error.startswith("column steps:") and "many" in third.error
    (tmp_path / "c.csv").write_text("content,style,method,iterations\na.png,s.png,idt,3\n")
    job, = _cli_jobs(batch_color, "color", ["--manifest", str(tmp_path / "c.csv"), "-o", str(tmp_path)],
                     lambda v: {"method": v["method"], "options": dict(p.split("=") for p in v["params"])})
    assert job.options == {"method": "idt", "options": {"iterations": "3"}}
