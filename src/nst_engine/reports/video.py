"""``nst report --video``: the coherence modes of video style transfer on a clip with known motion.

A pan over a bundled image (:func:`nst_engine.video.synthetic.pan`) is styled in every mode
of :func:`nst_engine.stylize_video`, from independent frames to the temporal loss (Ruder,
Dosovitskiy & Brox 2016). Per mode: the temporal error (flicker) measured with the clip's
*true* flow, so that it judges the styling and not a flow estimator; its ratio to the
independent frames'; the mean Gram distance to the style (style reached); seconds per frame.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..metrics.gram import gram_distances
from ..metrics.temporal import temporal_error
from ..samples import sample_image
from ..validation import check_choice
from ..video.stylize import COHERENCE, stylize_video
from ..video.synthetic import Clip, pan
from ._tables import format_cell, write_tables

__all__ = ["MODES", "VideoRow", "video_report"]

#: The coherence modes compared, from least to most coherent.
MODES = ("independent", "warm", "warped", "temporal")

#: The pan's motion in pixels per frame (x, y): subpixel-free, so its own frames score ~0.
_SPEED = (2.0, 1.0)


@dataclass
class VideoRow:
    coherence: str
    frames: int
    size: int
    backbone: str
    temporal_error: float
    #: The temporal error over the independent frames' (None without an independent row).
    versus_independent: float | None
    gram_distance: float
    seconds_per_frame: float
    steps: int
    frame_steps: int


def _true_flows(clip: Clip) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per pair, the clip's backward flow and the pixels it reaches (all but the entering strip)."""
    return [(clip.backward_flow[t], (~clip.disoccluded[t]).astype(np.float32)) for t in range(1, len(clip.frames))]


def video_report(
    output_dir: str | Path,
    *,
    frames: int = 8,
    size: int = 96,
    steps: int = 40,
    frame_steps: int | None = None,
    backbone: str = "random-multiscale",
    content: str = "astronaut",
    style: str = "immunohistochemistry",
    modes: tuple[str, ...] = MODES,
    threads: int | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> list[VideoRow]:
    """Style a pan over ``content`` in every mode and write ``video-report.md/.csv/.json`` into ``output_dir``.

    ``steps`` are the first (and every independent) frame's, ``frame_steps`` each later
    frame's (default: :func:`~nst_engine.video.stylize.iter_stylize_video`'s). ``threads``:
    torch's CPU threads; 1 keeps the seconds steady where other work shares the cores (more
    threads than free cores can make a step several times slower).
    """
    modes = tuple(check_choice("coherence", mode, COHERENCE) for mode in modes)
    if frames < 2:
        raise ValueError(f"a video report needs at least 2 frames to measure flicker; got {frames}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    clip = pan(frames=frames, size=size, speed=_SPEED, image=content)
    style_img = sample_image(style)
    flows = _true_flows(clip)
    rows: list[VideoRow] = []
    for mode in modes:
        progress(f"{mode}: {frames} frames at {size}px")
        started = time.perf_counter()
        result = stylize_video(clip.frames, style_img, coherence=mode, backbone=backbone, size=size, steps=steps,
                               frame_steps=frame_steps, seed=0, threads=threads)
        seconds = time.perf_counter() - started
        rows.append(VideoRow(
            mode, frames, size, backbone, temporal_error(result.frames, clip.frames, flows=flows).mean, None,
            float(np.mean(gram_distances(result.frames, style_img, backbone=backbone, size=size))),
            round(seconds / frames, 3), steps, result.provenance["video"]["frame_steps"]))
    independent = next((r.temporal_error for r in rows if r.coherence == "independent"), None)
    for row in rows:
        row.versus_independent = row.temporal_error / independent if independent else None
    header = ["coherence", "frames", "size", "backbone", "temporal error", "× independent", "Gram distance (style)",
              "s/frame", "steps", "frame steps"]
    table = [[r.coherence, str(r.frames), f"{r.size}²", r.backbone, format_cell(r.temporal_error, 6),
              format_cell(r.versus_independent, 2), format_cell(r.gram_distance, 6), format_cell(r.seconds_per_frame, 2),
              str(r.steps), str(r.frame_steps)] for r in rows]
    settings = {"clip": f"pan over {content}", "speed": list(_SPEED), "frames": frames, "size": size, "style": style,
                "backbone": backbone, "steps": steps, "frame_steps": rows[0].frame_steps if rows else frame_steps,
                "modes": list(modes), "seed": 0, "threads": threads}
    note = (f"Settings: {json.dumps(settings)}. Temporal error: mean over consecutive frames of the weighted "
            "squared difference between result t and result t−1 warped by the clip's true flow, over the pixels "
            "that flow reaches (lower flickers less). Gram distance: mean over frames and the backbone's style "
            "layers of 1/(4N²M²) Σ(G−A)² at the clip's size (lower is closer to the style). Seconds per frame "
            "are wall time, flow and loading the backbone included.")
    write_tables(output_dir, "video-report", "Video report: coherence modes on a synthetic pan", note, header, table,
                 {"settings": settings, "rows": [asdict(r) for r in rows]})
    return rows
