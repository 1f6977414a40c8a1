"""Is napari's event loop free while the panels work? A QTimer heartbeat says.

A 1280×800 main window with the Style Transfer, Color Transfer and Evaluate panels docked
(a laptop screen). A 10 ms QTimer records when it fires; a gap between two ticks longer
than 10 ms is time the Qt event loop could not serve. Scenarios, each read separately:

- ``idle``: the viewer doing nothing (its own floor with software OpenGL).
- ``add_layer_<N>``: napari itself adding an N² RGB layer (no plugin code): the cost of any layer.
- ``style_<N>``: a style transfer run at N px, from pressing Run to its end.
- ``compare_<N>``: Color Transfer's Compare all on an N² image.
- ``run_response_ms``: how long ``run()`` blocks the main thread after Run is pressed.
- ``cancel_s``: from pressing Cancel during a large run until the panel is idle again.

Goals (issue "a panel that fits a laptop screen"): no gap over 100 ms beyond the idle
viewer's own, Run responds within 100 ms, Cancel returns within 2 s. Run under Xvfb:

    xvfb-run -a -s "-screen 0 1280x1024x24" python benchmarks/bench_napari_responsiveness.py

Prints one JSON object; ``--json PATH`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any, Callable

import numpy as np


def _gaps_ms(ticks: list[float]) -> np.ndarray:
    return np.diff(np.asarray(ticks)) * 1000.0 if len(ticks) > 1 else np.zeros(1)


def _summary(ticks: list[float], origin: float) -> dict:
    gaps = _gaps_ms(ticks)
    worst = int(np.argmax(gaps)) if len(ticks) > 1 else 0
    return {
        "ticks": len(ticks),
        "max_ms": round(float(gaps.max()), 1),
        "max_at_s": round(ticks[worst] - origin, 2) if ticks else None,
        "p99_ms": round(float(np.percentile(gaps, 99)), 1),
        "median_ms": round(float(np.median(gaps)), 1),
        "over_100ms": int((gaps > 100).sum()),
    }


class Heartbeat:
    """A QTimer's tick times while ``watch`` pumps the event loop."""

    def __init__(self, app: Any, interval_ms: int) -> None:
        from qtpy.QtCore import QTimer

        self.app = app
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def pump_until(self, done: Callable[[], bool], limit_s: float) -> None:
        end = time.perf_counter() + limit_s
        while not done() and time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.001)

    def watch(self, action: Callable[[], Any], done: Callable[[], bool], limit_s: float = 900) -> dict:
        self.ticks.clear()
        self.timer.start()
        self.pump_until(lambda: False, 0.3)
        started = time.perf_counter()
        action()
        self.pump_until(done, limit_s)
        self.pump_until(lambda: False, 0.3)  # what follows the end (result layer, table)
        self.timer.stop()
        out = _summary(self.ticks, started)
        out["wall_s"] = round(time.perf_counter() - started, 2)
        return out


def _image(size: int) -> np.ndarray:
    from skimage import data, transform

    photo = transform.resize(data.chelsea(), (size * 300 // 451, size), anti_aliasing=True)
    return np.ascontiguousarray((photo * 255).astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style-sizes", type=int, nargs="+", default=[256, 2048])
    parser.add_argument("--style-steps", type=int, default=20, help="steps of the 256 px run (large runs do 4)")
    parser.add_argument("--compare-size", type=int, default=512)
    parser.add_argument("--cancel-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the runs (the setting)")
    parser.add_argument("--preview-interval", type=int, default=5)
    parser.add_argument("--interval-ms", type=int, default=10, help="heartbeat period")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_nst._qt import style_form
    from napari_nst._settings import RunSettings

    settings = RunSettings(device="cpu", threads=args.threads, preview_interval=args.preview_interval)
    style_form.run_settings = lambda: settings  # the benchmark's own settings, not the user's

    viewer = napari.Viewer(show=True)
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(1280, 800)
    from skimage import data

    style_layer = viewer.add_image(data.immunohistochemistry(), name="immunohistochemistry (style)", rgb=True)
    panels = {
        name: viewer.window.add_plugin_dock_widget("napari-nst", name)[1]
        for name in ("Style Transfer", "Color Transfer", "Evaluate")
    }
    style, color = panels["Style Transfer"], panels["Color Transfer"]
    app = QApplication.instance()
    beat = Heartbeat(app, args.interval_ms)
    beat.pump_until(lambda: False, 1.0)  # let the window settle
    result: dict[str, Any] = {
        "benchmark": "napari event-loop heartbeat, 1280×800 window, three panels docked",
        "command": "xvfb-run -a -s '-screen 0 1280x1024x24' python benchmarks/bench_napari_responsiveness.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "window": [window.width(), window.height()],
        "canvas_width": viewer.window._qt_viewer.canvas.native.width(),
    }
    result["idle"] = beat.watch(lambda: None, lambda: False, limit_s=2.0)

    for size in sorted({*args.style_sizes, args.compare_size}):
        image = _image(size)
        added: list[Any] = []
        result[f"add_layer_{size}"] = beat.watch(
            lambda image=image: added.append(viewer.add_image(image, rgb=True, name="probe")), lambda: True
        )
        viewer.layers.remove(added[0])

    for size in args.style_sizes:
        content = viewer.add_image(_image(size), name=f"content {size}", rgb=True)
        style.content.value, style.style.value = content, style_layer
        style.backbone.value = "random-multiscale"
        style.size.value, style.scales.value = size, 1
        style.steps.value = args.style_steps if size <= 512 else 4
        response: list[float] = []

        def press_run() -> None:
            begun = time.perf_counter()
            style.run()
            response.append((time.perf_counter() - begun) * 1000.0)

        scenario = beat.watch(press_run, lambda: not style.running)
        scenario["run_response_ms"] = round(response[0], 1)
        scenario["status"] = style.status.value
        result[f"style_{size}"] = scenario
        viewer.layers.remove(style.output)
        viewer.layers.remove(content)

    source = viewer.add_image(_image(args.compare_size), name="source", rgb=True)
    color.source.value, color.reference.value = source, style_layer
    result[f"compare_{args.compare_size}"] = beat.watch(color.compare_all, lambda: not color.running)
    result[f"compare_{args.compare_size}"]["status"] = color.status.value

    content = viewer.add_image(_image(args.cancel_size), name="content large", rgb=True)
    style.content.value = content
    style.size.value, style.steps.value = args.cancel_size, 200
    style.run()
    beat.pump_until(lambda: style.output is not None and "loss" in style.status.value, 600)
    beat.pump_until(lambda: False, 2.0)  # well inside a step
    cancelled: list[float] = []

    def press_cancel() -> None:
        cancelled.append(time.perf_counter())
        style.cancel()

    idle_at: list[float] = []

    def stopped() -> bool:
        if not style.running and not idle_at:
            idle_at.append(time.perf_counter())
        return bool(idle_at)

    scenario = beat.watch(press_cancel, stopped)
    scenario["cancel_s"] = round(idle_at[0] - cancelled[0], 2)
    scenario["steps_run"] = style.output.metadata["nst"].get("steps_run")
    result[f"cancel_{args.cancel_size}"] = scenario
    result["load_average_at_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    viewer.close()


if __name__ == "__main__":
    main()
