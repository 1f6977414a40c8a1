"""``nst report``: every registered color transfer, measured on bundled images.

Two experiments, after seed 000 ("Neural artistic style and color transfer"):
- *standalone*: astronaut's colors onto coffee; KL(reference‖output) per channel (how well
  the colors arrived), SSIM(source, output) (how well the structure survived), time, memory;
- *after style transfer*: the bundled content stylised with the bundled style, then each
  transfer recolours the result with the content's colors; KL(content‖output), SSIM(content,
  output). The first row, ``none``, is the stylised image itself.
Written as ``report.md``, ``report.csv``, ``report.json`` and one density plot per method.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import NstError
from ..files import atomic_write
from ..images import resize_max_side, split_image
from ..metrics.kl import kde_on_grid, kl_divergence
from ..metrics.resources import measure
from ..metrics.ssim import ssim
from ..pipeline import stylize
from ..plugins import get_entry, list_color_transfers
from ..samples import sample_image, sample_pair
from ..transfers import call_color_transfer
from ._tables import format_cell, write_tables

__all__ = ["Row", "color_report", "write_report"]

CHANNELS = ("R", "G", "B")


@dataclass
class Row:
    """One method's figures in one experiment."""

    experiment: str
    method: str
    plugin: str
    kl: dict[str, float] = field(default_factory=dict)
    ssim: float | None = None
    seconds: float | None = None
    peak_mb: float | None = None
    error: str | None = None


def _rgb(image: np.ndarray, size: int) -> np.ndarray:
    return resize_max_side(split_image(image)[0], size)


def _figures(row: Row, target: np.ndarray, structure: np.ndarray, output: np.ndarray) -> None:
    kl = kl_divergence(target, output)
    row.kl = dict(zip(kl.channels, kl.values))
    row.ssim = ssim(structure, output)


def _run_methods(experiment: str, source: np.ndarray, reference: np.ndarray, target: np.ndarray,
                 methods: list[str], plots: Path, progress: Callable[[str], None]) -> list[Row]:
    rows = []
    for method in methods:
        entry = get_entry("color_transfers", method)
        row = Row(experiment, method, f"{entry.plugin} {entry.plugin_version or ''}".strip())
        progress(f"{experiment}: {method}")
        try:
            with measure() as usage:
                output = call_color_transfer(entry, source, reference, entry.bind({}))
            row.seconds, row.peak_mb = round(usage.seconds, 4), round(usage.peak_mb, 1)
            _figures(row, target, source, output)
            _plot_densities(plots / f"{experiment}-{method}.png", target, output, f"{experiment}: {method}")
        except NstError as exc:  # a misbehaving plugin costs its row, not the report
            row.error = str(exc)
        rows.append(row)
    return rows


def _plot_densities(path: Path, target: np.ndarray, output: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 2.6), layout="constrained")
    axes = figure.subplots(1, 3, sharey=True)
    grid = np.linspace(0, 1, 256)
    for channel, (axis, name, colour) in enumerate(zip(axes, CHANNELS, ("tab:red", "tab:green", "tab:blue"))):
        axis.plot(grid, kde_on_grid(target[..., channel].ravel())[0], color="black", label="target")
        axis.plot(grid, kde_on_grid(output[..., channel].ravel())[0], color=colour, label="output")
        axis.set_title(name)
        axis.set_xlabel("value")
    axes[0].set_ylabel("density (Gaussian KDE)")
    axes[0].legend(fontsize="small")
    figure.suptitle(title)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=80))


def color_report(
    output_dir: str | Path,
    *,
    size: int = 256,
    methods: list[str] | None = None,
    backbone: str = "random-multiscale",
    steps: int = 100,
    progress: Callable[[str], None] = lambda message: None,
) -> list[Row]:
    """Run both experiments and write the report files into ``output_dir``."""
    output_dir = Path(output_dir)
    plots = output_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    methods = methods or list_color_transfers()
    source, reference = _rgb(sample_image("coffee"), size), _rgb(sample_image("astronaut"), size)
    rows = _run_methods("standalone", source, reference, reference, methods, plots, progress)
    content, style = sample_pair()
    progress(f"style transfer ({backbone}, {steps} steps)")
    stylised = stylize(content, style, backbone=backbone, size=size, steps=steps, scales=1).image
    content = resize_max_side(split_image(content)[0], size)
    baseline = Row("after-style-transfer", "none", "")
    _figures(baseline, content, content, stylised)
    rows.append(baseline)
    rows += _run_methods("after-style-transfer", stylised, content, content, methods, plots, progress)
    write_report(output_dir, rows, {"size": size, "backbone": backbone, "steps": steps})
    return rows


def write_report(output_dir: Path, rows: list[Row], settings: dict[str, Any]) -> None:
    """The color report's tables."""
    header = ["experiment", "method", "plugin", "KL R", "KL G", "KL B", "SSIM", "seconds", "peak MB", "error"]
    table = [
        [r.experiment, r.method, r.plugin, *(format_cell(r.kl.get(c)) for c in CHANNELS),
         format_cell(r.ssim), format_cell(r.seconds, 3), format_cell(r.peak_mb, 1), r.error or ""]
        for r in rows
    ]
    note = (f"Settings: {json.dumps(settings)}. Standalone: astronaut's colors onto coffee, "
            "KL(reference‖output). After style transfer: KL(content‖output). KL per channel of "
            "Gaussian KDEs (Scott's bandwidth, 256-point grid on [0, 1], floor 1e-10); SSIM of luminance. "
            "Density plots: `plots/<experiment>-<method>.png`.")
    write_tables(output_dir, "report", "Color transfer report", note, header, table,
                 {"settings": settings, "rows": [asdict(r) for r in rows]})
