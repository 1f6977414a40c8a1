"""``nst evaluate``: KL per channel, SSIM and (with --style) Gram distance of two images."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .params import group_options

__all__ = ["evaluate_command"]


@click.command("evaluate")
@click.argument("original", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("processed", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--style", type=click.Path(dir_okay=False, path_type=Path), help="Style image: adds the Gram distance.")
@click.option("--backbone", default="vgg19", show_default=True, help="Backbone for the Gram distance.")
@click.option("-p", "params", multiple=True, metavar="backbone.KEY=VALUE", help="A backbone option.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate_command(original, processed, style, backbone, params, as_json) -> None:
    """Compare PROCESSED with ORIGINAL: color fidelity (KL per channel), structure (SSIM)."""
    from ..evaluation import evaluate  # scipy; torch only for the Gram distance
    from ..files import read_image

    backbone_options = group_options(params, ["backbone"]).get("backbone", {})
    figures = evaluate(read_image(original), read_image(processed),
                       style=read_image(style) if style else None,
                       backbone=backbone, backbone_options=backbone_options)
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    channels = " ".join(f"{name}={value:.4f}" for name, value in figures["kl"].items())
    click.echo(f"KL(original||processed)  {channels}")
    click.echo(f"SSIM (luminance)         {figures['ssim']:.4f}")
    if "gram_distance" in figures:
        click.echo(f"Gram distance ({backbone}) {figures['gram_distance']:.6g}")
