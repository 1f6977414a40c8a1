"""``nst color``: recolour an image with another's colors by any registered transfer."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from .params import split_pairs
from .stylize import output_format_option

__all__ = ["color_command"]


def _mask(path: Path | None, image: np.ndarray) -> np.ndarray | None:
    """The statistics mask in ``path`` (nonzero selects), read by the engine's one mask rule."""
    from ..masks import read_mask

    return None if path is None else read_mask(path, shape=image.shape[:2]) != 0


@click.command("color")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output image (.png, .jpg, .tif, .zarr); provenance goes beside it as OUTPUT.json.")
@output_format_option
@click.option("-m", "--method", default="histogram", show_default=True,
              help="Registered color transfer (nst plugins lists them).")
@click.option("-p", "params", multiple=True, metavar="KEY=VALUE", help="An option of the transfer, e.g. -p iterations=20.")
@click.option("--source-mask", type=click.Path(dir_okay=False, path_type=Path),
              help="Image whose nonzero pixels are the source pixels the statistics come from.")
@click.option("--reference-mask", type=click.Path(dir_okay=False, path_type=Path),
              help="Image whose nonzero pixels are the reference pixels the statistics come from.")
def color_command(source, reference, output, fmt, method, params, source_mask, reference_mask) -> None:
    """Recolour SOURCE with the colors of REFERENCE and write OUTPUT."""
    # Imported here: scipy and scikit-image take most of a second, which nst --help need not pay.
    from ..files import check_output, read_image, write_image
    from ..images import to_unit_float
    from ..transfers import bind_color_transfer

    transfer = bind_color_transfer(method, **dict(split_pairs(params, "-p")))
    # A path that cannot be written fails before any work; JPEG's lack of alpha once the
    # source's channels are known.
    inputs = [p for p in (source, reference, source_mask, reference_mask) if p]
    check_output(output, format=fmt, inputs=inputs)
    source_img, reference_img = read_image(source), read_image(reference)
    if source_img.ndim == 3 and source_img.shape[-1] in (2, 4):
        check_output(output, alpha=True, format=fmt, inputs=inputs)
    started = time.perf_counter()
    result = transfer(source_img, reference_img, source_mask=_mask(source_mask, source_img),
                      reference_mask=_mask(reference_mask, reference_img))
    provenance = transfer.provenance(
        seconds=time.perf_counter() - started, source=str(source), reference=str(reference),
        source_mask=str(source_mask) if source_mask else None,
        reference_mask=str(reference_mask) if reference_mask else None,
    )
    write_image(output, to_unit_float(result), provenance=provenance, format=fmt)
