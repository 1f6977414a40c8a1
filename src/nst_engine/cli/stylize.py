"""``nst stylize``: style transfer on two image files, with a progress bar.

The pipeline imports torch, which takes seconds; the command says what it is about to do
first and imports the pipeline after, so that the terminal answers at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from ..convergence import UNTIL
from ..output_formats import OUTPUT_FORMATS, output_format
from ..presets import DEFAULT_QUALITY, QUALITY_PRESETS, steps_and_scales
from .params import group_options, loss_weights

__all__ = ["output_format_option", "run_options", "stylize_command", "stylize_options"]


def _run(events, *, quiet: bool):
    """Drain the generator with a progress bar; return its result.

    The bar appears with the first step: before it the run is planned and checked, and an
    error then should be the only line on the terminal.
    """
    bar = None
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as done:
                return done.value
            if bar is None:
                bar = tqdm(total=event.total, unit="step", disable=quiet, leave=False, dynamic_ncols=True)
            bar.set_postfix(scale=f"{event.scale + 1}/{event.scales}", loss=f"{event.losses['total']:.4g}")
            bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        events.close()


class _LossOption(click.Option):
    """``--loss``, whose help names the default weights, read only when help is shown."""

    def get_help_record(self, ctx: click.Context):
        from ..plan import DEFAULT_LOSSES

        defaults = ", ".join(f"{k}={v:g}" for k, v in DEFAULT_LOSSES.items())
        self.help = f"Set a loss weight; 0 removes it. Defaults: {defaults}."
        return super().get_help_record(ctx)


#: chelsea's height and width: the sample's estimate needs no skimage import.
SAMPLE_CONTENT_SHAPE = (300, 451)


def _content_shape(content: Path | None) -> tuple[int, int] | None:
    """Height and width from the file's header (PIL, else the lazy reader: no pixels read), if either can."""
    if content is None:
        return SAMPLE_CONTENT_SHAPE
    from PIL import Image

    try:
        with Image.open(content) as image:
            return image.height, image.width
    except Exception:  # noqa: BLE001 - BigTIFF and Zarr are not PIL's; the lazy reader has their shape
        return _lazy_shape(content)


def _lazy_shape(content: Path) -> tuple[int, int] | None:
    from ..large_reading import image_shape

    try:
        return image_shape(content)[:2]
    except Exception:  # noqa: BLE001 - no estimate then; the engine's reader says what is wrong
        return None


def _reduced_from(content: Path | None, image) -> list[int] | None:
    """The file's height and width when it was read reduced (above the pixel limit), else ``None``.

    The provenance says so: area averaging at read time is not the engine's resize.
    """
    shape = _content_shape(content) if content is not None else None
    return list(shape) if shape is not None and tuple(shape) != tuple(image.shape[:2]) else None


def _duration(seconds: float) -> str:
    return "≈ 1 s or less" if seconds < 1 else f"≈ {seconds:.0f} s" if seconds < 90 else f"≈ {seconds / 60:.1f} min"


def _announce(content, styles, *, size: int, steps: int, scales: int, backbone: str, device: str,
              precision: str, threads: int | None, until: str) -> str:
    """The line that says what the run is about to do and how long it may take, before torch loads."""
    from ..schedule import max_side_shape, scale_shapes
    from ..step_costs import estimate_seconds

    names = [p.name for p in styles] or ["immunohistochemistry (sample)"]
    shape = _content_shape(content)
    shapes = scale_shapes(max_side_shape(shape, size), scales) if shape else None
    line = (f"stylize {content.name if content else 'chelsea (sample)'} with {', '.join(names)}: "
            f"{size} px, {steps} step{'s' if steps != 1 else ''} over {len(shapes) if shapes else scales} scale(s), {backbone} on {device}")
    seconds = shapes and estimate_seconds(shapes, steps=steps, backbone=backbone, device=device,
                                          precision=precision, threads=threads)
    if seconds is not None:
        line += f"; {'all steps' if steps != 1 else 'the step'} {_duration(seconds)}" + (", converged scales end sooner" if until == "converged" else "")
    return line


class _TileType(click.ParamType):
    """``--tile``: ``auto``, ``off`` (never tile) or a tile side in pixels."""

    name = "tile"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in ("auto", "off"):
            return None if text == "off" else text
        if text.isdigit() and int(text) >= 64:
            return int(text)
        self.fail(f"{value!r} is not auto, off or a tile side of at least 64 px (e.g. --tile 1024)", param, ctx)


def run_options(function):
    """The options of a run, shared by ``nst stylize`` and ``nst batch stylize``."""
    options = [
        click.option("--backbone", default="vgg19", show_default=True, help="Feature network (see nst plugins)."),
        click.option("--optimizer", default="lbfgs", show_default=True, help="Optimizer (see nst plugins)."),
        click.option("--quality", type=click.Choice(list(QUALITY_PRESETS)), default=DEFAULT_QUALITY, show_default=True,
                     help="Preset of --steps and --scales: " + "; ".join(
                         f"{name}: {p['steps']} steps over {p['scales']} scale(s)" for name, p in QUALITY_PRESETS.items())
                     + ". --steps and --scales override it."),
        click.option("--steps", default=None, type=click.IntRange(min=0), help="Iterations in all, at most (default: the preset's)."),
        click.option("--size", default=512, show_default=True, type=click.IntRange(min=16), help="Longer side of the result in pixels."),
        click.option("--scales", default=None, type=click.IntRange(min=1), help="Coarse-to-fine scales (default: the preset's)."),
        click.option("--until", type=click.Choice(list(UNTIL)), default="converged", show_default=True,
                     help="converged: end a scale once its loss stops falling (see --tolerance); steps: run every step."),
        click.option("--tolerance", default=None, metavar="REL",
                     type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
                     help="Relative loss decrease over the convergence window below which a scale ends, "
                          "a fraction (0.002 is 0.2 %; default: the engine's, see docs/engine.md)."),
        click.option("--style-scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
                     help="Style image size relative to the content."),
        click.option("--style-weight", "style_weights", multiple=True, type=click.FloatRange(min=0),
                     help="Blend weight of each style image, in order (default: equal)."),
        click.option("--dynamic-weights", is_flag=True,
                     help="Scale each loss by its reference magnitude, so the weights are the balance optimised."),
        click.option("--init", type=click.Choice(["content", "noise", "style"]), default="content", show_default=True),
        click.option("--seed", default=0, show_default=True, type=int, help="Seed; CPU reruns are bit-identical."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="fp32", show_default=True,
                     help="Backbone forward in bf16 (at the finest scale) or fp32; auto: bf16 where the CPU (AMX, AVX-512 BF16) or GPU has it."),
        click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch CPU threads (default: torch's)."),
        click.option("--tile", type=_TileType(), default="auto", show_default=True, metavar="auto|off|PX",
                     help="Optimise scales above PX² pixels in tiles of about PX a side, with the untiled gradient "
                          "(docs/tiling.md); auto: only a run that would not fit in memory."),
        click.option("--loss", "losses", cls=_LossOption, multiple=True, metavar="NAME=WEIGHT"),
        click.option("--color", default="none", show_default=True, metavar="MODE",
                     help="Keep the content's colors: none, luminance, before:TRANSFER or after:TRANSFER "
                          "(e.g. after:histogram; options with -p color.KEY=VALUE)."),
        click.option("-p", "params", multiple=True, metavar="GROUP.KEY=VALUE",
                     help="An option of the backbone, optimizer, color transfer or a loss, e.g. "
                          "-p backbone.pooling=avg -p gram.layers=relu1_1,relu2_1."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def stylize_options(*, backbone: str = "vgg19", optimizer: str = "lbfgs", quality: str = DEFAULT_QUALITY,
                    steps: int | None = None, size: int = 512, scales: int | None = None, until: str = "converged",
                    tolerance: float | None = None, style_scale: float = 1.0, style_weights: Sequence[float] = (),
                    dynamic_weights: bool = False, init: str = "content", seed: int = 0, device: str = "auto",
                    precision: str = "fp32", threads: int | None = None, losses: Sequence[str] = (),
                    color: str = "none", params: Sequence[str] = (), tile: int | str | None = "auto") -> dict[str, Any]:
    """``iter_stylize``'s keyword arguments from :func:`run_options`' values (all but the images and mask).

    Raises ``click.UsageError`` for a malformed ``--loss`` or ``-p``; the engine checks the rest.
    """
    from ..convergence import DEFAULT_TOLERANCE
    from ..plan import DEFAULT_LOSSES

    steps, scales = steps_and_scales(quality, steps, scales)
    weights = loss_weights(DEFAULT_LOSSES, losses)
    groups = group_options(params, ["backbone", "optimizer", *weights, "color"])
    return {
        "style_weights": list(style_weights) or None, "dynamic_weights": dynamic_weights,
        "backbone": backbone, "backbone_options": groups.pop("backbone", {}),
        "optimizer": optimizer, "optimizer_options": groups.pop("optimizer", {}),
        "color": color, "color_options": groups.pop("color", {}), "losses": weights, "loss_options": groups,
        "steps": steps, "size": size, "scales": scales,
        "until": until, "tolerance": DEFAULT_TOLERANCE if tolerance is None else tolerance,
        "style_scale": style_scale, "init": init, "seed": seed, "device": device, "precision": precision,
        "threads": threads, "tile": tile,
    }


#: ``--output-format``, shared with ``nst color``.
output_format_option = click.option(
    "--output-format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=None,
    help="png, jpeg, tiff, bigtiff (tiled, with a pyramid) or ome-zarr (a .zarr folder); "
         "default: what OUTPUT's extension says. It must fit the extension.")


@click.command("stylize")
@click.argument("content", required=False, type=click.Path(path_type=Path))
@click.argument("styles", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output image (.png, .jpg, .tif, .zarr); provenance goes beside it as OUTPUT.json.")
@output_format_option
@click.option("--sample", is_flag=True, help="Use the bundled sample images (chelsea, immunohistochemistry).")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path),
              help="Where style applies, at the content's size: a gray mask (nonzero = style), or with "
                   "several styles a gray or palette label image (label i = i-th style, 0 = none).")
@run_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def stylize_command(content, styles, output, fmt, sample, mask, quiet, **run) -> None:
    """Paint CONTENT in the style of STYLE (Gatys et al. 2016) and write OUTPUT.

    Several STYLE images are blended (--style-weight) or each given a region (--mask).
    Without ImageNet weights for VGG, use --backbone random-multiscale: it works offline.
    CONTENT and STYLE may be BigTIFF or OME-Zarr: one above NST_MAX_IMAGE_PIXELS is read
    lazily, straight at --size (see docs/large-images.md).
    """
    if sample == bool(content or styles):
        raise click.UsageError("give CONTENT and STYLE, or --sample (not both)")
    if not sample and not (content and styles):
        raise click.UsageError("give both CONTENT and STYLE")
    output_format(output, format=fmt)  # a name that does not fit the format is refused before anything
    if not quiet:
        steps, scales = steps_and_scales(run["quality"], run["steps"], run["scales"])
        click.echo(_announce(content, styles, size=run["size"], steps=steps, scales=scales, backbone=run["backbone"],
                             device=run["device"], precision=run["precision"], threads=run["threads"],
                             until=run["until"]), err=True)
    from ..files import check_output, read_image, write_image
    from ..masks import read_mask
    from ..pipeline import iter_stylize
    from ..samples import sample_pair

    options = stylize_options(**run)
    if sample:
        content_img, style_img = sample_pair()
        style_imgs = [style_img]
    else:
        # Files above the pixel limit are read at the run's size, never whole (files.read_image).
        style_side = math.ceil(run["size"] * run["style_scale"])
        content_img = read_image(content, max_side=run["size"])
        style_imgs = [read_image(path, max_side=style_side) for path in styles]
    # Everything that could fail at the end is checked here, before minutes of optimisation.
    check_output(output, alpha=content_img.ndim == 3 and content_img.shape[-1] in (2, 4), format=fmt,
                 inputs=[] if sample else [content, *styles, *([mask] if mask else [])])
    events = iter_stylize(
        content_img, style_imgs, mask=read_mask(mask, shape=content_img.shape[:2]) if mask else None,
        preview_every=0, **options,
    )
    result = _run(events, quiet=quiet)
    provenance = dict(result.provenance, content=str(content or "sample:chelsea"),
                      style=[str(p) for p in styles] or ["sample:immunohistochemistry"],
                      mask_file=str(mask) if mask else None, content_reduced_from=_reduced_from(content, content_img))
    write_image(output, result.image, provenance=provenance, format=fmt)
    if not result.cancelled:
        from ..step_costs import record_run

        record_run(result.provenance)
    if not quiet:
        tiles = sorted({t for t in result.provenance.get("tiles", []) if t})
        tiled = f", the scales above {tiles[0]}² px in tiles" if tiles else ""
        steps_run = result.provenance["steps_run"]
        click.echo(f"wrote {output} ({result.image.shape[1]}×{result.image.shape[0]}, "
                   f"{steps_run} step{'s' if steps_run != 1 else ''}{tiled}, "
                   f"{result.provenance['timings']['total_s']:.1f} s)", err=True)

