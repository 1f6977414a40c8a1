"""``nst video``: style transfer of a video, frame folder or TIFF stack, coherent along the motion."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from .stylize import run_options, stylize_options

__all__ = ["video_command"]


def _stylize(events, *, total: int, quiet: bool, announce: str):
    """Drain the video run with a bar of frames; its result."""
    if not quiet:
        click.echo(announce, err=True)
    bar = tqdm(total=total, unit="frame", disable=quiet, leave=False, dynamic_ncols=True)
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as done:
                return done.value
            if event.step is None:
                bar.update(1)
            else:
                bar.set_postfix(frame=f"{event.frame + 1}/{event.frames}", step=event.step.step,
                                loss=f"{event.step.losses['total']:.4g}")
    finally:
        bar.close()
        events.close()


@click.command("video")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="A video (.mp4, .mov, .avi, .mkv, .webm, .gif: the input's frame rate), a .tif stack or a folder "
                   "of frames; provenance beside it (OUTPUT.json, or provenance.json in the folder).")
@click.option("--coherence", type=click.Choice(["temporal", "warped", "warm", "independent"]), default="temporal",
              show_default=True, help="temporal: start from the previous result warped by the flow and hold it there "
                                      "(Ruder et al. 2016); independent: every frame alone.")
@click.option("--temporal-weight", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Weight of the temporal loss (default: the engine's).")
@click.option("--long-term", default="1", show_default=True, metavar="J,J,...",
              help="Earlier frames each frame is held to: 1 the previous; e.g. 1,2,4 the long-term loss.")
@click.option("--passes", type=click.IntRange(min=1), default=1, show_default=True,
              help="More than 1: Ruder et al.'s multi-pass schedule (alternately backwards and forwards).")
@click.option("--frame-steps", type=click.IntRange(min=0), default=None,
              help="Steps of each frame after the first (default: a third of --steps, at least 20).")
@click.option("--flow", type=click.Choice(["dis", "tvl1", "ilk"]), default="dis", show_default=True,
              help="Optical flow method between input frames.")
@run_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def video_command(source, styles, output, coherence, temporal_weight, long_term, passes, frame_steps, flow, quiet,
                  **run) -> None:
    """Paint each frame of SOURCE in the style of STYLE and write OUTPUT, whole, when the last frame is done.

    An interrupted run resumes: frames already finished with the same inputs and options are reused.
    """
    from ..files import read_image
    from ..video.frame_reading import open_frames
    from ..video.frame_writing import FrameStore, check_video_output
    from ..video.stylize import DEFAULT_TEMPORAL_WEIGHT, iter_stylize_video

    try:
        offsets = tuple(int(j) for j in long_term.split(","))
    except ValueError:
        raise click.BadParameter(f"{long_term!r} is not whole numbers separated by commas, e.g. 1,2,4",
                                 param_hint="--long-term") from None
    check_video_output(output, inputs=(source, *styles))  # an output it cannot write is refused before any frame
    with open_frames(source) as frames:
        fps, count = frames.fps, len(frames)
        store = FrameStore(output, names=frames.names)
        events = iter_stylize_video(
            frames, [read_image(p) for p in styles], coherence=coherence, long_term=offsets, passes=passes,
            frame_steps=frame_steps, flow=flow, temporal_weight=temporal_weight or DEFAULT_TEMPORAL_WEIGHT,
            sink=store, keep_frames=False, preview_every=0, **stylize_options(**run),
        )
        result = _stylize(events, total=count * passes, quiet=quiet,
                          announce=f"video {source.name}: {count} frames, {coherence}, {passes} pass(es) -> {output}")
    provenance = dict(result.provenance, source=str(source), style=[str(p) for p in styles])
    store.finish(provenance, fps)
    if not quiet:
        reused = sum(bool(r.get("reused")) for r in result.provenance["video"]["per_frame"])
        click.echo(f"wrote {output} ({result.provenance['video']['frames_done']} frames, {reused} reused, "
                   f"{result.provenance['video']['total_s']:.1f} s)", err=True)
