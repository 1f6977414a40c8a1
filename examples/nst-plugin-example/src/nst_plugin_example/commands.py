"""``nst sliced-ot-demo``: the plugin's own subcommand, added through ``register_commands``."""

from __future__ import annotations

from pathlib import Path

import click
from nst_engine.files import write_image
from nst_engine.images import resize_max_side, split_image, to_unit_float
from nst_engine.samples import sample_image
from nst_engine.transfers import bind_color_transfer

__all__ = ["sliced_ot_demo"]


@click.command("sliced-ot-demo")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--projections", default=6, show_default=True, type=click.IntRange(1, 64),
              help="Random directions per iteration.")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=16),
              help="Longer side of the images in pixels.")
def sliced_ot_demo(output: Path, projections: int, size: int) -> None:
    """Recolour the bundled coffee photo with the astronaut's colors and write OUTPUT."""
    source = resize_max_side(split_image(sample_image("coffee"))[0], size)
    reference = resize_max_side(split_image(sample_image("astronaut"))[0], size)
    # Through the registry, as `nst color` does: options are validated by the schema and
    # the result checked, so the demo shows what users of the plugin get.
    transfer = bind_color_transfer("sliced-ot", projections=projections)
    result = transfer(source, reference)
    provenance = {"kind": "color_transfer", "method": "sliced-ot", "options": transfer.options,
                  "source": "sample:coffee", "reference": "sample:astronaut"}
    write_image(output, to_unit_float(result), provenance=provenance)
    click.echo(f"wrote {output}", err=True)
