"""``nst evaluate``: KL per channel, SSIM and (with --style) Gram distance of two images; for clips also flicker."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import click

from .params import group_options

__all__ = ["evaluate_command"]

#: :data:`nst_engine.video.flow.FLOW_METHODS`, spelled out so that ``--help`` needs no OpenCV.
_FLOWS = ["dis", "tvl1", "ilk"]


@click.command("evaluate")
@click.argument("original", type=click.Path(path_type=Path))
@click.argument("processed", type=click.Path(path_type=Path))
@click.option("--style", type=click.Path(dir_okay=False, path_type=Path), help="Style image: adds the Gram distance.")
@click.option("--backbone", default="vgg19", show_default=True, help="Backbone for the Gram distance.")
@click.option("-p", "params", multiple=True, metavar="backbone.KEY=VALUE", help="A backbone option.")
@click.option("--flow", type=click.Choice(_FLOWS), default=None,
              help="Clips: the optical flow method for the temporal error  [default: dis].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (clips: with every frame's figures).")
def evaluate_command(original, processed, style, backbone, params, flow, as_json) -> None:
    """Compare PROCESSED with ORIGINAL: color fidelity (KL per channel), structure (SSIM).

    Two clips (video files, frame folders or multi-page TIFF stacks, as many frames each)
    also get the temporal error: how much PROCESSED flickers along ORIGINAL's motion. The
    other figures are then means over the frames, ORIGINAL's frames taken at PROCESSED's size.
    """
    from ..errors import ImageError
    from ..files import read_image

    backbone_options = group_options(params, ["backbone"]).get("backbone", {})
    style_image = read_image(style) if style else None
    with contextlib.ExitStack() as stack:
        clips = [_open_clip(path) for path in (original, processed)]
        for clip in clips:
            if clip is not None:
                stack.callback(clip.close)
        if clips[0] is None and clips[1] is None:
            if flow is not None:
                raise ImageError(f"--flow measures clips, and {original} and {processed} are single images; "
                                 "drop --flow or give two videos, frame folders or TIFF stacks")
            from ..evaluation import evaluate  # scipy; torch only for the Gram distance

            figures = evaluate(read_image(original), read_image(processed), style=style_image,
                               backbone=backbone, backbone_options=backbone_options)
        else:
            _check_counts(original, clips[0], processed, clips[1])
            from ..evaluation import evaluate_frames

            figures = evaluate_frames(clips[0], clips[1], style=style_image, flow=flow, backbone=backbone,
                                      backbone_options=backbone_options)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    if "frames" in figures:
        _echo_clip_head(figures)
    channels = " ".join(f"{name}={value:.4f}" for name, value in figures["kl"].items())
    click.echo(f"KL(original||processed)  {channels}")
    click.echo(f"SSIM (luminance)         {figures['ssim']:.4f}")
    if "gram_distance" in figures:
        click.echo(f"Gram distance ({backbone}) {figures['gram_distance']:.6g}")


def _open_clip(path: Path) -> Any:
    """The frames at ``path`` when it is a clip (a video, a frame folder, a TIFF of several pages); else None."""
    from ..errors import ImageError
    from ..large_reading import is_zarr
    from ..video.frame_reading import VIDEO_SUFFIXES, open_frames

    suffix = path.suffix.lower()
    if (path.is_dir() and not is_zarr(path)) or suffix in VIDEO_SUFFIXES:
        return open_frames(path)
    if suffix in (".tif", ".tiff") and path.is_file():
        try:
            frames = open_frames(path)
        except ImageError:
            return None  # read_image then says what is wrong with it as an image
        if len(frames) > 1:
            return frames
        frames.close()
    return None


def _check_counts(original: Path, original_clip: Any, processed: Path, processed_clip: Any) -> None:
    from ..errors import ImageError

    if original_clip is None or processed_clip is None:
        kinds = [f"a clip of {len(clip)} frames" if clip is not None else "a single image"
                 for clip in (original_clip, processed_clip)]
        raise ImageError(f"ORIGINAL {original} is {kinds[0]} but PROCESSED {processed} is {kinds[1]}: "
                         "give two clips or two single images")
    if len(original_clip) != len(processed_clip):
        raise ImageError(f"ORIGINAL {original} has {len(original_clip)} frames but PROCESSED {processed} has "
                         f"{len(processed_clip)}: give the clip and all of its processed frames")


def _echo_clip_head(figures: dict) -> None:
    pairs = [(record["temporal_error"], record["frame"]) for record in figures["per_frame"][1:]]
    worst, frame = max(pairs)
    click.echo(f"{figures['frames']} frames; the figures below the temporal error are means over frames")
    label = f"temporal error ({figures['flow']})"
    click.echo(f"{label:<24} {figures['temporal_error']:.6g} "
               f"(worst {worst:.6g}: frame {frame} against {frame - 1})")
