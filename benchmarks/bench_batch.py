"""nst batch on Dask distributed: throughput, scheduler overhead, peak memory, resume.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_batch.py [--quick]

Jobs/min of 40 color transfers at 1024² (8 contents × 5 references) and 12 style transfers
at 256² (4 × 3, random-multiscale, 10 L-BFGS steps, one scale) three ways: a plain loop in
this process (the worker's own ``run_job``, torch on all cores), a local cluster of 1 worker
× 2 threads and one of 2 workers × 1 thread. A cluster's rate counts from its first job's
submission to its last result; its start (worker processes importing torch) is given apart.
Then the scheduler's overhead per job (200 no-op tasks through ``as_completed``, as the runner
submits them) and a resumed batch of 1,000 jobs whose outputs all exist. Goals (issue 13):
color batch ≥ 1.7× the loop on 2 cores, overhead ≤ 50 ms per job, resume ≤ 5 s. Prints a
Markdown table and JSON; exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage import data
from skimage.transform import resize

from nst_engine.batching.jobs import cross_jobs, job_hash
from nst_engine.batching.runner import batch, run_batch
from nst_engine.batching.tasks import run_job
from nst_engine.files import write_image

#: skimage's bundled colour images (no download); the last two again, mirrored, make eight.
_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
            "astronaut", "coffee")


def _images(folder: Path, names, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        image = getattr(data, name)()[..., :3]
        path = folder / f"{i}_{name}.png"
        write_image(path, resize(image[:, ::-1] if i >= 6 else image, (size, size), anti_aliasing=True).astype(np.float32))
        paths.append(path)
    return paths


def _loop(jobs) -> float:
    run_job(jobs[0], job_hash(jobs[0]))  # warm: imports and plugins, as a worker has them
    started = time.perf_counter()
    for job in jobs:
        run_job(job, job_hash(job))
    return time.perf_counter() - started


def _cluster(jobs, out: Path, workers: int, threads: int) -> dict:
    began = time.perf_counter()
    records = []
    for event in batch(jobs, output_dir=out, resume=False, workers=workers, threads_per_worker=threads):
        if event.kind == "started":  # workers up, plugins checked, imports warm
            first = time.perf_counter()
        elif event.kind == "done":
            records.append(event.record)
            ended = time.perf_counter()
    failed = [r for r in records if r["status"] != "done"]
    assert not failed and len(records) == len(jobs), failed
    peak = {}
    for r in records:
        peak[r["worker"]] = max(peak.get(r["worker"], 0), r["peak_memory_mb"])
    return {"seconds": ended - first, "start_s": first - began, "peak_mb": sorted(peak.values())}


def _overhead(count: int) -> float:
    from distributed import Client, LocalCluster, as_completed

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        client.submit(int, 0).result()
        started = time.perf_counter()
        futures = [client.submit(int, i, pure=False) for i in range(count)]
        for future in as_completed(futures):
            future.result()
        return (time.perf_counter() - started) / count


def _resume(folder: Path, count: int) -> float:
    contents = _images(folder / "in", _SAMPLES[:1], 16)
    jobs = cross_jobs("color", contents * count, contents, output_dir=folder, name="{index}.png",
                      options={"method": "reinhard", "options": {}})
    for job in jobs:
        write_image(job.output, np.zeros((16, 16, 3), np.float32), provenance={"batch": {"job_hash": job_hash(job)}})
    started = time.perf_counter()
    result = run_batch(jobs, output_dir=folder)
    seconds = time.perf_counter() - started
    assert all(r["status"] == "skipped" for r in result.records)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the jobs (a smoke run)")
    args = parser.parse_args()
    share = 4 if args.quick else 1
    root = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    cases = {}
    color_in = _images(root, _SAMPLES, 1024)
    style_in = _images(root / "small", _SAMPLES[:4], 256)
    tasks = {
        "color 1024²": lambda out: cross_jobs("color", color_in[:8 // share], color_in[:5], output_dir=out,
                                              options={"method": "histogram", "options": {}}),
        "stylize 256²": lambda out: cross_jobs("stylize", style_in[:4 // share], style_in[:3], output_dir=out,
                                               options={"backbone": "random-multiscale", "size": 256, "scales": 1,
                                                        "steps": 10, "until": "steps"}),
    }
    for name, make in tasks.items():
        out = root / name.split()[0]
        out.mkdir()
        jobs = make(out)
        loop_s = _loop(jobs)
        row = {"jobs": len(jobs), "loop": 60 * len(jobs) / loop_s}
        for workers, threads in ((1, 2), (2, 1)):
            found = _cluster(make(out), out, workers, threads)
            row[f"{workers}x{threads}"] = 60 * len(jobs) / found["seconds"]
            row[f"{workers}x{threads} start_s"] = found["start_s"]
            row[f"{workers}x{threads} peak_mb"] = found["peak_mb"]
        cases[name] = row
    overhead = _overhead(200)
    resume = _resume(root / "resume", 1000 // share)
    print("| batch | jobs | loop jobs/min | 1 worker × 2 threads | 2 workers × 1 thread | best / loop | "
          "cluster start s | peak MB per worker (2×1) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in cases.items():
        best = max(row["1x2"], row["2x1"])
        print(f"| {name} | {row['jobs']} | {row['loop']:.1f} | {row['1x2']:.1f} | {row['2x1']:.1f} | "
              f"{best / row['loop']:.2f}× | {row['1x2 start_s']:.1f} / {row['2x1 start_s']:.1f} | "
              f"{', '.join(f'{m:.0f}' for m in row['2x1 peak_mb'])} |")
    print(f"\nscheduler overhead per no-op job: {overhead * 1000:.1f} ms; resumed batch of "
          f"{1000 // share} finished jobs: {resume:.2f} s")
    print(json.dumps({"cases": cases, "overhead_s": overhead, "resume_s": resume}, default=str))
    color = cases["color 1024²"]
    goals = [max(color["1x2"], color["2x1"]) >= 1.7 * color["loop"], overhead <= 0.05, resume <= 5]
    return 0 if all(goals) else 1


if __name__ == "__main__":
    sys.exit(main())
