"""Is napari's event loop free while a style transfer runs? A QTimer heartbeat says.

A 10 ms QTimer records when it fires while the Style Transfer widget runs a real
``iter_stylize`` in its worker (the sample pair, random-multiscale, CPU). A gap between
two ticks longer than 10 ms is time the Qt event loop could not serve: the figure of merit
is the largest gap (goal: under 100 ms) and its 99th percentile. For scale, the same
timer is read first with napari idle, then with only a napari progress bar open (its
animated activity indicator repaints the window: napari's own floor). Run under Xvfb:

    xvfb-run -a -s "-screen 0 1280x1024x24" python benchmarks/bench_napari_responsiveness.py --size 256 --steps 60

Prints one JSON object; ``--json PATH`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def _gaps_ms(ticks: list[float]) -> np.ndarray:
    return np.diff(np.asarray(ticks)) * 1000.0 if len(ticks) > 1 else np.zeros(1)


def _summary(gaps: np.ndarray) -> dict:
    return {
        "ticks": int(gaps.size + 1),
        "max_ms": round(float(gaps.max()), 1),
        "p99_ms": round(float(np.percentile(gaps, 99)), 1),
        "median_ms": round(float(np.median(gaps)), 1),
        "over_100ms": int((gaps > 100).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="longer side of the result")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--scales", type=int, default=2)
    parser.add_argument("--backbone", default="random-multiscale")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the run (the setting)")
    parser.add_argument("--preview-interval", type=int, default=5, help="steps between live previews")
    parser.add_argument("--interval-ms", type=int, default=10, help="heartbeat period")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()

    import napari
    from napari.utils import progress
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from napari_nst._qt import style_form, style_transfer
    from napari_nst._sample_data import sample_pair
    from napari_nst._settings import RunSettings

    settings = RunSettings(device="cpu", threads=args.threads, preview_interval=args.preview_interval)
    style_form.run_settings = lambda: settings  # the benchmark's own settings, not the user's

    # How long the plugin's own step handler runs (label text and the preview array handed to
    # napari), apart from the repaint napari and Qt do afterwards.
    handler_ms: list[tuple[float, bool]] = []
    show_step = style_transfer.StyleTransferWidget._show_step

    def timed_show_step(self, run, event, preview):  # noqa: ANN001
        begun = time.perf_counter()
        show_step(self, run, event, preview)
        handler_ms.append(((time.perf_counter() - begun) * 1000.0, preview is not None))

    style_transfer.StyleTransferWidget._show_step = timed_show_step

    viewer = napari.Viewer(show=True)
    (content, content_kwargs, _), (style, style_kwargs, _) = sample_pair()
    content_layer = viewer.add_image(content, **content_kwargs)
    style_layer = viewer.add_image(style, **style_kwargs)
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value, widget.style.value = content_layer, style_layer
    widget.backbone.value = args.backbone
    widget.steps.value, widget.size.value, widget.scales.value = args.steps, args.size, args.scales
    app = QApplication.instance()

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(args.interval_ms)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    pump(1.0)  # let the window settle
    timer.start()
    pump(2.0)
    idle = _gaps_ms(ticks)

    # napari's own floor: an open progress bar animates the activity indicator, and every
    # frame recomposes the window (costly with software OpenGL); no worker, no plugin code.
    ticks.clear()
    bar = progress(total=1, desc="floor")
    pump(2.0)
    bar.close()
    floor = _gaps_ms(ticks)
    pump(0.5)

    ticks.clear()
    started = time.perf_counter()
    widget.run()
    while widget.running and time.perf_counter() - started < 600:
        app.processEvents()
        time.sleep(0.001)
    wall = time.perf_counter() - started
    timer.stop()
    during = _gaps_ms(ticks)
    worst = np.argsort(during)[::-1][:5]
    largest = [
        {"ms": round(float(during[i]), 1), "at_s": round(ticks[i] - started, 2)} for i in sorted(worst)
    ]
    nst = widget.output.metadata["nst"]
    result = {
        "benchmark": "napari event-loop heartbeat during a style transfer run",
        "command": "xvfb-run -a -s '-screen 0 1280x1024x24' python benchmarks/bench_napari_responsiveness.py "
        f"--size {args.size} --steps {args.steps} --scales {args.scales} --threads {args.threads} "
        f"--preview-interval {args.preview_interval}",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"python {platform.python_version()}",
        "backbone": args.backbone,
        "output_shape": nst.get("output_shape"),
        "steps_run": nst.get("steps_run"),
        "run_wall_s": round(wall, 2),
        "heartbeat_ms": args.interval_ms,
        "idle": _summary(idle),
        "idle_with_progress_bar": _summary(floor),
        "during_run": _summary(during),
        "largest_gaps": largest,
        "plugin_step_handler_ms": {
            "calls": len(handler_ms),
            "max_with_preview": round(max((t for t, p in handler_ms if p), default=0.0), 1),
            "max_without_preview": round(max((t for t, p in handler_ms if not p), default=0.0), 1),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    viewer.close()


if __name__ == "__main__":
    main()
