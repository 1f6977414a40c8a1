"""``nst report --nst``: seed 002's comparison table, reproduced on bundled images.

Plain Gatys (fixed weights), dynamic weighting and the multi-scale loss, each at every size
asked: SSIM of the result against the content (structure kept), Gram distance to the style
under the same backbone (style reached), runtime and peak memory. The backbone is named in
the table: its figures are not comparable with another backbone's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..images import resize_max_side, split_image
from ..metrics.gram import gram_distance
from ..metrics.resources import measure
from ..metrics.ssim import ssim
from ..pipeline import stylize
from ..samples import sample_image
from ._tables import format_cell, write_tables

__all__ = ["METHODS", "NstRow", "nst_report"]

#: The compared methods as pipeline options.
METHODS: dict[str, dict[str, Any]] = {
    "gatys": {"losses": {"content": 1.0, "gram": 1e4, "tv": 1.0}},
    "dynamic-weighting": {"losses": {"content": 1.0, "gram": 1.0, "tv": 0.1}, "dynamic_weights": True},
    "multi-scale-loss": {"losses": {"content": 1.0, "multiscale": 1e4, "tv": 1.0},
                         "loss_options": {"multiscale": {"loss": "gram", "factors": (1.0, 0.5)}}},
}


@dataclass
class NstRow:
    method: str
    size: int
    backbone: str
    ssim: float
    gram_distance: float
    seconds: float
    peak_mb: float
    steps: int


def nst_report(
    output_dir: str | Path,
    *,
    sizes: Sequence[int] = (256, 1024),
    backbone: str = "random-multiscale",
    steps: int = 100,
    content: str = "astronaut",
    style: str = "immunohistochemistry",
    progress: Callable[[str], None] = lambda message: None,
) -> list[NstRow]:
    """Run every method at every size and write ``nst-report.md/.csv/.json`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    content_img, style_img = sample_image(content), sample_image(style)
    rows = []
    for size in sizes:
        for method, options in METHODS.items():
            progress(f"{method} at {size}px")
            with measure() as usage:
                result = stylize(content_img, style_img, backbone=backbone, size=size, steps=steps, **options)
            reference = resize_max_side(split_image(content_img)[0], size)
            rows.append(NstRow(method, size, backbone, ssim(reference, result.image),
                               gram_distance(result.image, style_img, backbone=backbone),
                               round(usage.seconds, 2), round(usage.peak_mb, 1), steps))
    header = ["method", "size", "backbone", "SSIM (content)", "Gram distance (style)", "seconds", "peak MB", "steps"]
    table = [[r.method, f"{r.size}²", r.backbone, format_cell(r.ssim), format_cell(r.gram_distance, 6), format_cell(r.seconds, 1),
              format_cell(r.peak_mb, 0), str(r.steps)] for r in rows]
    settings = {"content": content, "style": style, "backbone": backbone, "steps": steps, "sizes": list(sizes),
                "methods": METHODS}
    note = (f"Settings: {json.dumps(settings, default=str)}. SSIM of luminance against the content at the "
            "result's size; Gram distance: mean over the backbone's style layers of 1/(4N²M²) Σ(G−A)² at "
            "256 px (lower is closer to the style); peak memory above the start (max of peak RSS and "
            "tracemalloc); seconds include loading the backbone.")
    write_tables(output_dir, "nst-report", "Style transfer report (seed 002's table)", note, header, table,
                 {"settings": settings, "rows": [asdict(r) for r in rows]})
    return rows
