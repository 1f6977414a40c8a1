"""``nst report``: every registered color transfer on bundled images, as tables and plots; or the seeds' other tables."""

from __future__ import annotations

from pathlib import Path

import click


__all__ = ["report_command"]


@click.command("report")
@click.option("-o", "--output", "output_dir", default="nst-report", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for report.md/.csv/.json and plots/.")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=16), help="Longer image side in pixels.")
@click.option("--method", "methods", multiple=True, help="Only these transfers (default: all registered).")
@click.option("--backbone", default="random-multiscale", show_default=True, help="Backbone of the style transfer.")
@click.option("--steps", default=100, show_default=True, type=click.IntRange(min=0), help="Style transfer iterations.")
@click.option("--nst", "nst", is_flag=True,
              help="Instead: compare plain Gatys, dynamic weighting and the multi-scale loss (seed 002's table).")
@click.option("--nst-size", "nst_sizes", multiple=True, type=click.IntRange(min=16),
              help="Sizes for --nst (default: 256 and 1024).")
@click.option("--video", "video", is_flag=True,
              help="Instead: flicker, style and seconds per frame of each video coherence mode on a synthetic pan.")
@click.option("--video-frames", default=8, show_default=True, type=click.IntRange(min=2), help="Frames for --video.")
@click.option("--video-size", default=96, show_default=True, type=click.IntRange(min=16), help="Frame side for --video.")
@click.option("--video-steps", default=40, show_default=True, type=click.IntRange(min=0),
              help="Steps of --video's first (and each independent) frame; later frames a third, at least 20.")
@click.option("--video-threads", type=click.IntRange(min=1), default=None,
              help="Torch CPU threads for --video (default: torch's; 1 is steadier on a busy machine).")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def report_command(output_dir, size, methods, backbone, steps, nst, nst_sizes, video, video_frames, video_size,
                   video_steps, video_threads, quiet) -> None:
    """Run every color transfer (plugins included) standalone and after a style transfer.

    With --nst, write seed 002's table instead: SSIM, Gram distance, runtime and peak memory
    of plain Gatys, dynamic weighting and the multi-scale loss. With --video, the coherence
    modes of ``nst video`` (independent, warm, warped, temporal) on a short pan with known
    motion: temporal error, Gram distance to the style and seconds per frame.
    """
    from ..reports import color_report, nst_report, video_report  # style transfer: torch

    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    if nst and video:
        raise click.UsageError("--nst and --video are two reports: run them one at a time")
    if video:
        rows = video_report(output_dir, frames=video_frames, size=video_size, steps=video_steps, backbone=backbone,
                            threads=video_threads, progress=say)
        say(f"wrote {output_dir}/video-report.md ({len(rows)} rows)")
        return
    if nst:
        rows = nst_report(output_dir, sizes=nst_sizes or (256, 1024), backbone=backbone, steps=steps, progress=say)
        say(f"wrote {output_dir}/nst-report.md ({len(rows)} rows)")
        return
    rows = color_report(output_dir, size=size, methods=list(methods) or None, backbone=backbone,
                        steps=steps, progress=say)
    failed = [row for row in rows if row.error]
    say(f"wrote {output_dir}/report.md ({len(rows)} rows, {len(failed)} failed)")
