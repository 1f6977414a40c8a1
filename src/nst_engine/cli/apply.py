"""``nst apply``: a trained feed-forward model over images, folders, stacks and videos.

Images go through the batch machinery (:mod:`nst_engine.batching`): several, or any with
``--scheduler``, on Dask; one in this process. Either way an output whose provenance records
the same job is skipped, so a rerun resumes. A stack or video is applied here frame by frame
into a :class:`~nst_engine.video.frame_writing.FrameStore`, as ``nst video`` writes, and an
interrupted run reuses the frames it finished. Torch is imported once the inputs are sorted
out, so that a bad path is answered at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

__all__ = ["apply_command"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")
_CLIP_OUTPUT_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".tif", ".tiff")


@dataclass(frozen=True)
class _Input:
    """One thing to apply the model to: an image file, or a clip (video, TIFF stack, frame folder)."""

    path: Path
    clip: bool


def _is_stack(path: Path) -> bool:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return len(tif.pages) > 1
    except Exception:  # noqa: BLE001 - not a readable TIFF: the image reader names what is wrong
        return False


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


def _inputs(paths: tuple[Path, ...], output: Path, clip: bool) -> list[_Input]:
    """What each IN is; a folder is a clip with ``--clip`` or when the one input goes to a video or TIFF."""
    from ..errors import ImageError

    to_clip_file = len(paths) == 1 and output.suffix.lower() in _CLIP_OUTPUT_SUFFIXES and not output.is_dir()
    found: list[_Input] = []
    for path in paths:
        if path.is_dir():
            if clip or to_clip_file:
                found.append(_Input(path, True))
                continue
            images = _images_in(path)
            if not images:
                raise ImageError(f"no images in {path}: expected .png, .jpg or .tif files (for a folder of frames "
                                 "of a clip, add --clip)")
            found.extend(_Input(p, False) for p in images)
        elif not path.exists():
            raise ImageError(f"no image, folder, TIFF stack or video at {path}; check the path")
        elif path.suffix.lower() in _VIDEO_SUFFIXES:
            found.append(_Input(path, True))
        elif path.suffix.lower() in _IMAGE_SUFFIXES:
            found.append(_Input(path, path.suffix.lower() in (".tif", ".tiff") and _is_stack(path)))
        else:
            raise ImageError(f"cannot apply a model to {path}: {path.suffix or 'no extension'} is neither an image "
                             f"({', '.join(_IMAGE_SUFFIXES)}) nor a video ({', '.join(_VIDEO_SUFFIXES)})")
    return found


def _clip_output(item: _Input, folder: Path) -> Path:
    """Where a clip goes inside the output folder: its own kind (a read-only container becomes .mp4)."""
    if item.path.is_dir():
        return folder / item.path.name
    suffix = item.path.suffix.lower()
    return folder / (item.path.name if suffix in _CLIP_OUTPUT_SUFFIXES else item.path.stem + ".mp4")


def _outputs(items: list[_Input], output: Path) -> list[Path]:
    """Each input's output: OUT itself for one input (its folder when OUT is one), else OUT/NAME."""
    from ..errors import ImageError

    single = len(items) == 1
    if single and items[0].clip:
        outputs = [output]
    elif single and not (output.is_dir() or str(output).endswith(("/", os.sep))):
        outputs = [output]
    else:
        if output.exists() and not output.is_dir():
            raise ImageError(f"cannot write {len(items)} outputs into {output}: it is a file; name a folder")
        outputs = [_clip_output(i, output) if i.clip else output / i.path.name for i in items]
    sources = {i.path.resolve(): i.path for i in items}
    for path in outputs:
        if path.resolve() in sources:
            raise ImageError(f"the output {path} is the input {sources[path.resolve()]}, which is never overwritten; "
                             "choose another output folder or name")
    return outputs


def _mix(value: str | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        return tuple(float(w) for w in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not numbers separated by commas, e.g. 0.3,0.7",
                                 param_hint="--style-mix") from None


def _apply_clip(model: Any, item: _Input, output: Path, run_options: dict, *, style_path: Path | None,
                batch_size: int, temporal_blend: float, force: bool, quiet: bool) -> None:
    """One clip, frame by frame into a FrameStore; skipped whole when OUTPUT records this very run."""
    from tqdm import tqdm

    from ..models.applying import ModelRun, iter_apply_frames
    from ..video.frame_reading import open_frames
    from ..video.frame_writing import FrameStore, check_video_output, read_video_provenance

    check_video_output(output)
    run = ModelRun(model, **run_options)
    with open_frames(item.path) as frames:
        key = run.key + ":" + _clip_identity(item.path) + (f":blend={temporal_blend}" if temporal_blend else "")
        found = read_video_provenance(output) if output.exists() and not force else None
        if found is not None and (found.get("apply") or {}).get("clip_key") == key:
            if not quiet:
                click.echo(f"skipped {output}: already made from {item.path.name} with these options "
                           "(--force redoes it)", err=True)
            return
        store = FrameStore(output, names=frames.names)
        if not quiet:
            click.echo(f"apply {model.name} to {item.path.name}: {len(frames)} frames -> {output}", err=True)
        events = iter_apply_frames(run, frames, batch_size=batch_size, sink=store, resume=not force,
                                   temporal_blend=temporal_blend)
        bar = tqdm(total=len(frames), unit="frame", disable=quiet, leave=False, dynamic_ncols=True)
        try:
            while True:
                try:
                    next(events)
                    bar.update(1)
                except StopIteration as done:
                    result = done.value
                    break
        finally:
            bar.close()
            events.close()
        fps = frames.fps
    provenance = dict(result.provenance, source=str(item.path), style=None if style_path is None else str(style_path),
                      model_file=Path(model.provenance["file"]).name, model_sha256=model.provenance["sha256"],
                      apply={"clip_key": key})
    store.finish(provenance, fps)
    if not quiet:
        click.echo(f"wrote {output} ({result.provenance['frames']} frames, {result.provenance['reused']} reused, "
                   f"{result.provenance['total_s']:.1f} s)", err=True)


def _clip_identity(path: Path) -> str:
    """The clip's files by path, size and modification time: a changed input is applied again."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return ";".join(f"{p.resolve()}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p in files)


def _apply_images(jobs: list, where: dict) -> bool:
    """Image jobs: on Dask (several, or a scheduler), else here; whether all succeeded."""
    from ..batching.jobs import check_jobs, job_hash
    from ..batching.runner import is_finished
    from ..batching.tasks import run_job
    from ..errors import ImageError

    if len(jobs) > 1 or where["scheduler"]:
        from .batch import _run as run_batch_with_bar  # nst batch's own bar, failure lines and summary line

        try:
            run_batch_with_bar(jobs, where)
        except click.exceptions.Exit:
            return False
        return True
    job = check_jobs(jobs)[0]
    if job.error is not None:
        raise ImageError(job.error)
    digest = job_hash(job)
    if not where["force"] and is_finished(job, digest):
        if not where["quiet"]:
            click.echo(f"skipped {job.output}: already made from {Path(job.content).name} with these options "
                       "(--force redoes it)", err=True)
        return True
    from ..files import check_output

    check_output(job.output)
    record = run_job(job, digest)
    if not where["quiet"]:
        click.echo(f"wrote {job.output} ({record['seconds']:.2f} s)", err=True)
    return True


@click.command("apply")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("inputs", metavar="IN...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="One input: the output file (a video, .tif stack or folder for a clip). Several: a folder, "
                   "one output per input under its own name, plus summary.csv for the images.")
@click.option("--style", "style_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Style image, for a model that takes one (adain).")
@click.option("--alpha", type=click.FloatRange(0, 1), default=None, help="adain: stylisation strength, 0 to 1.")
@click.option("--style-index", type=click.IntRange(min=0), default=None,
              help="A multi-style (CIN) model: the style to apply, from 0.")
@click.option("--style-mix", default=None, metavar="W,W,...",
              help="A multi-style model: weights blending its styles, e.g. 0.3,0.7.")
@click.option("--size", type=click.IntRange(min=16), default=None, help="Longer side in pixels (default: the input's).")
@click.option("--color", default="none", show_default=True, metavar="MODE",
              help="Keep the content's colors: luminance or after:TRANSFER recolour the output; before:TRANSFER "
                   "recolours the style image (adain only). Options with -p color.KEY=VALUE.")
@click.option("-p", "params", multiple=True, metavar="color.KEY=VALUE", help="An option of the color transfer.")
@click.option("--sha256", default=None, help="Expected SHA-256 of MODEL (or a prefix of at least 8 hex digits).")
@click.option("--encoder", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A pytorch-AdaIN decoder.pth MODEL: its encoder, vgg_normalised.pth.")
@click.option("--encoder-sha256", default=None, metavar="HEX",
              help="Expected SHA-256 of --encoder (or a prefix of at least 8 hex digits).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="fp32", show_default=True,
              help="bf16: autocast where the CPU (AMX, AVX-512 BF16) or GPU has it; auto: bf16 there, else fp32.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch CPU threads (default: torch's).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="Frames of a clip per forward pass.")
@click.option("--clip", is_flag=True, help="A folder IN is the frames of one clip, not a set of images.")
@click.option("--temporal-blend", type=float, default=0.0, show_default=True, metavar="S",
              help="Clips: pull each frame towards the previous result warped by the optical flow, from 0 (off) "
                   "to below 1 (stronger: less flicker, longer trails); docs/feed-forward.md.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Images on an existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else a local cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Local cluster: worker processes.")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Further attempts of an image that failed.")
@click.option("--force", is_flag=True, help="Redo outputs that are already there.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary lines.")
def apply_command(model_path: Path, inputs: tuple[Path, ...], output: Path, style_path: Path | None,
                  alpha: float | None, style_index: int | None, style_mix: str | None, size: int | None, color: str,
                  params: tuple[str, ...], sha256: str | None, encoder: Path | None, encoder_sha256: str | None,
                  device: str, precision: str, threads: int | None, batch_size: int, clip: bool,
                  temporal_blend: float, scheduler: str | None, workers: int | None, retries: int, force: bool, quiet: bool) -> None:
    """Apply the feed-forward MODEL (saved by nst_engine.save_model, or a published .pth) to each IN.

    A pytorch-AdaIN decoder.pth MODEL needs its encoder: --encoder vgg_normalised.pth.

    IN is an image, a folder of images, a multi-page TIFF stack, a video, or with --clip a folder
    of frames. Every output carries provenance (the model file's name and SHA-256, the options);
    a rerun skips outputs made with the same model and options (docs/feed-forward.md).
    """
    from .params import group_options

    mix = _mix(style_mix)
    color_options = group_options(params, ["color"]).get("color", {})
    items = _inputs(inputs, output, clip)
    outputs = _outputs(items, output)
    if not quiet:
        images = sum(not i.clip for i in items)
        counts = [f"{n} {what}{'s' if n > 1 else ''}" for n, what in ((images, "image"), (len(items) - images, "clip"))
                  if n]
        click.echo(f"apply {model_path.name} to {' and '.join(counts)} -> {output}", err=True)

    from ..errors import OptionError
    from ..files import read_image
    from ..models.applying import ModelRun
    from ..models.coherence import check_strength
    from ..models.loading import load_model

    model = load_model(model_path, sha256=sha256, encoder=encoder, encoder_sha256=encoder_sha256)
    if model.needs_style and style_path is None:
        raise OptionError(f"model {model.name!r} ({model_path.name}) takes its style from an image: add --style IMAGE")
    calls = {k: v for k, v in (("style_index", style_index), ("style_mix", mix), ("alpha", alpha)) if v is not None}
    options = {"size": size, "color": color, "color_options": color_options, "device": device,
               "precision": precision, "threads": threads, **calls}
    style = read_image(style_path) if style_path is not None else None
    ModelRun(model, style=style, **options)  # every option checked before any output
    check_strength(temporal_blend)
    if temporal_blend and not any(i.clip for i in items):
        raise OptionError("--temporal-blend blends the frames of a clip: give a video, a TIFF stack or a folder of "
                          "frames with --clip", option="temporal_blend")

    if len(items) > 1:
        output.mkdir(parents=True, exist_ok=True)
    ok = True
    for item, path in zip(items, outputs):
        if item.clip:
            _apply_clip(model, item, path, dict(options, style=style), style_path=style_path, batch_size=batch_size,
                        temporal_blend=temporal_blend, force=force, quiet=quiet)
    image_items = [(i, p) for i, p in zip(items, outputs) if not i.clip]
    if image_items:
        from ..batching.jobs import apply_jobs

        folder = outputs[0].parent if len(items) == 1 else output
        # The encoder's full SHA-256 as loaded: workers check the file against it, and the job hash covers it.
        encoder_digest = model.provenance["encoder"]["sha256"] if encoder is not None else None
        jobs = apply_jobs([i.path for i, _ in image_items], [p for _, p in image_items], model=model_path,
                          model_name=model.name, sha256=model.provenance["sha256"], style=style_path,
                          encoder=encoder, encoder_sha256=encoder_digest, options=options)
        where = {"output_dir": folder, "scheduler": scheduler, "workers": workers, "threads_per_worker": None,
                 "retries": retries, "force": force, "evaluate": False, "quiet": quiet}
        ok = _apply_images(jobs, where)
    if not ok:
        raise click.exceptions.Exit(1)
