"""``nst color``: recolour an image with another's colors by any registered transfer."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from ..catalog import get_entry
from ..files import read_image, write_image
from ..images import to_unit_float
from ..transfers import call_color_transfer
from .params import split_pairs

__all__ = ["color_command"]


def _mask(path: Path | None) -> np.ndarray | None:
    if path is None:
        return None
    mask = read_image(path)
    return (mask[..., 0] if mask.ndim == 3 else mask) > 0


@click.command("color")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("reference", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output image (.png, .jpg, .tif); provenance goes beside it as OUTPUT.json.")
@click.option("-m", "--method", default="histogram", show_default=True,
              help="Registered color transfer (nst plugins lists them).")
@click.option("-p", "params", multiple=True, metavar="KEY=VALUE", help="An option of the transfer, e.g. -p iterations=20.")
@click.option("--source-mask", type=click.Path(dir_okay=False, path_type=Path),
              help="Image whose nonzero pixels are the source pixels the statistics come from.")
@click.option("--reference-mask", type=click.Path(dir_okay=False, path_type=Path),
              help="Image whose nonzero pixels are the reference pixels the statistics come from.")
def color_command(source, reference, output, method, params, source_mask, reference_mask) -> None:
    """Recolour SOURCE with the colors of REFERENCE and write OUTPUT."""
    entry = get_entry("color_transfers", method)
    options = entry.bind(dict(split_pairs(params, "-p")))
    source_img, reference_img = read_image(source), read_image(reference)
    started = time.perf_counter()
    result = call_color_transfer(entry, source_img, reference_img, options,
                                 source_mask=_mask(source_mask), reference_mask=_mask(reference_mask))
    seconds = time.perf_counter() - started
    provenance = {
        "kind": "color_transfer", "method": method, "plugin": entry.plugin, "version": entry.plugin_version,
        "options": options, "source": str(source), "reference": str(reference),
        "source_mask": str(source_mask) if source_mask else None,
        "reference_mask": str(reference_mask) if reference_mask else None, "seconds": round(seconds, 4),
    }
    write_image(output, to_unit_float(result), provenance=provenance)
