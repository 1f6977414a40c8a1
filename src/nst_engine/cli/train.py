"""``nst train``: train a feed-forward style network (Johnson et al. 2016) on the images to style.

The trainer imports torch, which takes seconds; the command says what it is about to do
first and imports it after, so that the terminal answers at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from .params import group_options, loss_weights

__all__ = ["train_command"]


def _line(event, *, rate: float, batch_size: int) -> str:
    terms = "  ".join(f"{name} {value:.4g}" for name, value in event.losses.items())
    return f"step {event.step}/{event.total}  {terms}  {rate:.2f} it/s ({rate * batch_size:.1f} img/s)"


def _storage_line(storage: dict) -> str:
    from ..training.image_store import size_text

    return (f"{storage['count']} training images, {size_text(storage['bytes'])} as float16 in an unnamed "
            f"temporary file in {storage['folder']} (freed when the run ends)")


def _drain(events, *, quiet: bool, log_every: int, batch_size: int, previews: Path | None):
    """Drain the training, a progress line every ``log_every`` steps (and at the last); its result.

    The rates are of the steps themselves, without setup, previews or checkpoints.
    """
    from ..files import write_image

    seconds, steps_since, first = 0.0, 0, True
    try:
        while True:
            try:
                event = next(events)
            except StopIteration as done:
                return done.value
            if event.storage is not None and not quiet:
                click.echo(_storage_line(event.storage), err=True)
            if first and event.step > 1 and not quiet:
                click.echo(f"resumed at step {event.step - 1} from its checkpoint", err=True)
            first, steps_since, seconds = False, steps_since + 1, seconds + event.step_s
            if event.previews is not None and previews is not None:
                previews.mkdir(parents=True, exist_ok=True)
                for index, image in enumerate(event.previews):
                    write_image(previews / f"step{event.step:06d}-{index}.png", image)
            if not quiet and (event.step % log_every == 0 or event.step == event.total):
                click.echo(_line(event, rate=steps_since / max(seconds, 1e-9), batch_size=batch_size), err=True)
                seconds, steps_since = 0.0, 0
    finally:
        events.close()


@click.command("train")
@click.argument("styles", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--images", required=True, metavar="DIR|GLOB|VIDEO",
              help="What the network will stylise: a folder of images, a glob (quoted, e.g. 'frames/*.png'), "
                   "a video or a TIFF stack.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The model file to write (e.g. MODEL.pt); its checkpoint is kept beside it as MODEL.pt.ckpt.")
@click.option("--backbone", default="auto", show_default=True,
              help="Feature network (see nst plugins); auto: vgg19 if its ImageNet weights are cached, "
                   "else random-multiscale (works offline).")
@click.option("--loss", "losses", multiple=True, metavar="NAME=WEIGHT",
              help="Set a loss weight; 0 removes it. Defaults: those of nst stylize.")
@click.option("-p", "params", multiple=True, metavar="GROUP.KEY=VALUE",
              help="An option of the backbone or a loss, e.g. -p backbone.channels=64 -p gram.layers=relu1_1,relu2_1.")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=16),
              help="Side of the square training crops in pixels.")
@click.option("--steps", default=2000, show_default=True, type=click.IntRange(min=0),
              help="Training steps in all (a resumed run counts the checkpoint's).")
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1), help="Crops per step.")
@click.option("--lr", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Adam's learning rate.")
@click.option("--style-scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Style image's longer side relative to --size.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seeds the network and every batch; CPU reruns are bit-identical.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="fp32", show_default=True,
              help="The backbone's forward; the network trains in fp32.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Torch CPU threads (default: torch's).")
@click.option("--validation", "validation", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="IMAGE", help="An image to preview the network on; previews go to MODEL.previews/.")
@click.option("--preview-every", default=100, show_default=True, type=click.IntRange(min=0),
              help="Steps between previews (0: only at the end).")
@click.option("--checkpoint-every", default=100, show_default=True, type=click.IntRange(min=1),
              help="Steps between checkpoints (one is also written at the end and on interruption).")
@click.option("--resume/--no-resume", default=None,
              help="Continue from MODEL.pt.ckpt (--resume: or refuse); default: if it holds this training.")
@click.option("--log-every", default=None, type=click.IntRange(min=1),
              help="Steps between progress lines (default: a tenth of --steps, at most 50).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def train_command(styles, images, output, backbone, losses, params, size, steps, batch_size, lr, style_scale, seed,
                  device, precision, threads, validation, preview_every, checkpoint_every, resume, log_every,
                  quiet) -> None:
    """Train Johnson et al.'s network to paint --images in the style of STYLE, and write OUTPUT.

    Several STYLE images train one network that holds them all (conditional instance norm);
    apply one with style_index. Interrupted (Ctrl-C), it keeps a checkpoint: the same command
    continues where it stopped.
    """
    if not quiet:
        click.echo(f"train johnson on {len(styles)} style(s) ({', '.join(p.name for p in styles)}) with {images}: "
                   f"{steps} steps of {batch_size}×{size}² crops, {backbone} on {device} -> {output}", err=True)
    from ..files import check_writable
    from ..plan import DEFAULT_LOSSES
    from ..training import checkpoint_path, train

    check_writable(output.parent.expanduser().absolute(), output)  # before training, not after it

    weights = loss_weights(DEFAULT_LOSSES, losses)
    groups = group_options(params, ["backbone", *weights])
    checkpoint = checkpoint_path(output)
    events = train(
        [str(p) for p in styles], images, backbone=backbone, backbone_options=groups.pop("backbone", {}),
        losses=weights, loss_options=groups, size=size, steps=steps, batch_size=batch_size, lr=lr,
        style_scale=style_scale, seed=seed, device=device, precision=precision, threads=threads,
        validation=[str(p) for p in validation] or None, preview_every=preview_every, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every, resume=resume,
    )
    previews = output.with_name(output.name + ".previews") if validation else None
    try:
        result = _drain(events, quiet=quiet, log_every=log_every or max(1, min(50, steps // 10)),
                        batch_size=batch_size, previews=previews)
    except KeyboardInterrupt:
        if checkpoint.is_file():
            click.echo(f"checkpoint kept at {checkpoint}: run the same command to continue", err=True)
        raise
    result.save(output)
    if not quiet:
        provenance = result.provenance
        resumed = f", resumed from step {provenance['resumed_from']}" if provenance["resumed_from"] else ""
        rate = provenance["timings"]["images_per_s"]
        click.echo(f"wrote {output} ({provenance['steps_run']} steps{resumed}, "
                   f"{provenance['timings']['total_s']:.1f} s" + (f", {rate:.1f} img/s" if rate else "") + ")",
                   err=True)
