"""``nst batch stylize|color``: many outputs on Dask distributed, resumable, with a summary.

Jobs come from ``--content``/``--style`` (every pair), ``--manifest`` (a row per job, its
columns overriding the options) or ``--planes`` (every plane of a stack). Dask and torch are
imported once the command runs, so that ``nst --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import click

from .stylize import run_options, stylize_options

__all__ = ["batch_group"]

#: Columns a manifest row may have besides options.
_FILE_COLUMNS = ("content", "style", "output")


def _where(function):
    """Job sources, output and where the batch runs: shared by both subcommands."""
    options = [
        click.option("--content", "contents", multiple=True, metavar="GLOB_OR_DIR",
                     help="Content images: files, globs (frames/*.tif) or folders; with every --style."),
        click.option("--style", "styles", multiple=True, type=click.Path(dir_okay=False),
                     help="Style image (for color: the reference); every content gets every style."),
        click.option("--manifest", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="CSV or JSON lines: content, style (';' for several), optional output, and options "
                          "as columns named as on the command line (steps, size, backbone.pooling, ...)."),
        click.option("--planes", is_flag=True, help="Every plane of each --content stack (TIFF) is a job."),
        click.option("-o", "--output-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Folder for the outputs, summary.csv and summary.json (created if missing)."),
        click.option("--name", default=None, metavar="TEMPLATE",
                     help="Output file name: {content}, {style}, {plane}, {index} (default {content}__{style}.png)."),
        click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                     help="An existing Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else a local cluster)."),
        click.option("--workers", type=click.IntRange(min=1), default=None, help="Local cluster: worker processes."),
        click.option("--threads-per-worker", type=click.IntRange(min=1), default=None,
                     help="Local cluster: jobs each worker runs at once (default 1)."),
        click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
                     help="Further attempts of a job that raised, before it is recorded as failed."),
        click.option("--force", is_flag=True, help="Redo jobs whose output is already there."),
        click.option("--evaluate", is_flag=True, help="Add nst evaluate's metrics to the summary."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _cast(command: click.Command, name: str, text: str) -> Any:
    """A manifest cell as the option ``name`` of ``command`` reads it (``;`` separates repeats)."""
    param = next(p for p in command.params if p.name == name)
    ctx = click.Context(command)
    value = [part.strip() for part in text.split(";") if part.strip()] if param.multiple else text
    return param.type_cast_value(ctx, value)


def _row_values(command: click.Command, base: dict[str, Any], row, pass_through: Callable[[str], bool]) -> dict:
    """The command's values with ``row``'s option columns applied: ``GROUP.KEY`` columns
    become ``-p`` pairs, others must name an option of ``command`` or pass ``pass_through``."""
    values = dict(base)
    # A column is named as the flag (``style-scale``, ``loss``) or as its parameter (``style_scale``).
    names = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.name in base:
            for spelled in (param.name, *(flag.lstrip("-") for flag in param.opts if flag.startswith("--"))):
                names[spelled] = names[spelled.replace("-", "_")] = param.name
    extra = []
    for column, text in row.options.items():
        name = names.get(column.lstrip("-"))
        if name is not None and name not in _FILE_COLUMNS:
            try:
                values[name] = _cast(command, name, text)
            except click.BadParameter as exc:
                raise click.UsageError(f"column {column}: {exc.message}") from None
        elif "." in column or pass_through(column):
            extra.append(f"{column}={text}")
        else:
            raise click.UsageError(f"unknown option {column!r}")
    values["params"] = (*values.get("params", ()), *extra)
    return values


def _jobs(task: str, where: dict, base: dict, to_options: Callable[[dict], dict],
          pass_through: Callable[[str], bool] = lambda column: False) -> list:
    from ..batching.jobs import Job, cross_jobs, expand_inputs, output_name, read_manifest

    out_dir = where["output_dir"]
    jobs = []
    if where["contents"] or where["styles"]:
        if not (where["contents"] and where["styles"]):
            raise click.UsageError("give both --content and --style")
        jobs += cross_jobs(task, expand_inputs(where["contents"]), where["styles"], output_dir=out_dir,
                           options=to_options(base), name=where["name"], planes=where["planes"])
    if where["manifest"]:
        command = click.get_current_context().command
        for row in read_manifest(where["manifest"]):
            output = row.output or str(out_dir / output_name(where["name"] or "{content}__{style}.png",
                                                              content=row.content or "row", styles=row.styles,
                                                              plane=None, index=len(jobs)))
            error = row.error
            options: dict = {}
            if error is None:
                try:
                    options = to_options(_row_values(command, base, row, pass_through))
                except click.UsageError as exc:
                    error = exc.message
            jobs.append(Job(task, row.content, row.styles, output, options, row=row.number, error=error))
    if not jobs:
        raise click.UsageError("no jobs: give --content and --style, or --manifest")
    return jobs


def _run(jobs: list, where: dict) -> None:
    """Run the batch with a progress bar; a line per failed job; exit 1 if any failed."""
    from tqdm import tqdm

    from ..batching.runner import batch

    where["output_dir"].mkdir(parents=True, exist_ok=True)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # Dask's INFO lines would bury the bar
        import distributed  # noqa: F401 - importing it sets its loggers to INFO: quieten them after

        logging.getLogger("distributed").setLevel(logging.WARNING)
    events = batch(jobs, output_dir=where["output_dir"], scheduler=where["scheduler"], workers=where["workers"],
                   threads_per_worker=where["threads_per_worker"], retries=where["retries"],
                   resume=not where["force"], evaluate=where["evaluate"])
    bar = tqdm(total=len(jobs), unit="job", disable=where["quiet"], dynamic_ncols=True)
    seen = dict.fromkeys(("done", "skipped", "failed", "invalid"), 0)
    try:
        for event in events:
            if event.kind == "started":
                if event.dashboard:
                    bar.write(f"dashboard: {event.dashboard}", file=click.get_text_stream("stderr"))
                continue
            if event.kind in ("failed", "invalid"):
                bar.write(f"{event.record['job']}: {event.kind}: {event.record['error']}",
                          file=click.get_text_stream("stderr"))
            if event.kind in seen:
                seen[event.kind] += 1
                bar.update(1)
            bar.set_postfix(done=event.done, failed=event.failed, running=event.running)
    finally:
        bar.close()
        events.close()
    failed = seen["failed"] + seen["invalid"]
    click.echo(f"{seen['done']} done, {seen['skipped']} skipped, {failed} failed; "
               f"summary in {where['output_dir'] / 'summary.csv'}", err=True)
    if failed:
        raise click.exceptions.Exit(1)


@click.group("batch")
def batch_group() -> None:
    """Style or color transfer on many images, on Dask distributed (see docs/batch.md)."""


@batch_group.command("stylize")
@_where
@run_options
def batch_stylize(**values) -> None:
    """Every --content with every --style (or each --manifest row): nst stylize's options for all."""
    where = {k: values.pop(k) for k in list(values) if k in _WHERE}
    _run(_jobs("stylize", where, values, lambda v: stylize_options(**v)), where)


@batch_group.command("color")
@_where
@click.option("-m", "--method", default="histogram", show_default=True, help="Registered color transfer.")
@click.option("-p", "params", multiple=True, metavar="KEY=VALUE", help="An option of the transfer, e.g. -p iterations=20.")
def batch_color(**values) -> None:
    """Recolour every --content with every --style as reference (or each --manifest row)."""
    from ..plugins import get_entry
    from .params import split_pairs

    where = {k: values.pop(k) for k in list(values) if k in _WHERE}

    def to_options(v: dict) -> dict:
        return {"method": v["method"], "options": dict(split_pairs(v["params"], "-p"))}

    def transfer_option(column: str) -> bool:
        try:
            return column in {o.name for o in get_entry("color_transfers", values["method"]).options}
        except Exception:
            return False

    _run(_jobs("color", where, values, to_options, transfer_option), where)


_WHERE = ("contents", "styles", "manifest", "planes", "output_dir", "name", "scheduler", "workers",
          "threads_per_worker", "retries", "force", "evaluate", "quiet")
