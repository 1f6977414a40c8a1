"""``nst report``: every registered color transfer on bundled images, as tables and plots."""

from __future__ import annotations

from pathlib import Path

import click

from ..report import color_report

__all__ = ["report_command"]


@click.command("report")
@click.option("-o", "--output", "output_dir", default="nst-report", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for report.md/.csv/.json and plots/.")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=16), help="Longer image side in pixels.")
@click.option("--method", "methods", multiple=True, help="Only these transfers (default: all registered).")
@click.option("--backbone", default="random-multiscale", show_default=True, help="Backbone of the style transfer.")
@click.option("--steps", default=100, show_default=True, type=click.IntRange(min=0), help="Style transfer iterations.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def report_command(output_dir, size, methods, backbone, steps, quiet) -> None:
    """Run every color transfer (plugins included) standalone and after a style transfer."""
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    rows = color_report(output_dir, size=size, methods=list(methods) or None, backbone=backbone,
                        steps=steps, progress=say)
    failed = [row for row in rows if row.error]
    say(f"wrote {output_dir}/report.md ({len(rows)} rows, {len(failed)} failed)")
