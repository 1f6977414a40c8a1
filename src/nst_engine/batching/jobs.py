"""Batch jobs: what to run on which files, where its output goes, and the hash that resumes it.

A job names its inputs by path (the worker reads them, so pixels never travel) and holds the
engine options it runs with. Its hash covers those options and the inputs' identity (resolved
path, size, modification time): an output whose sidecar records the same hash is this job's
finished result, and a rerun skips it.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import OptionError

__all__ = [
    "Job", "ManifestRow", "IMAGE_SUFFIXES", "DEFAULT_NAME", "expand_inputs", "count_planes",
    "read_manifest", "output_name", "cross_jobs", "apply_jobs", "job_hash", "check_jobs",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: Output file name; ``{content}`` and ``{style}`` are file stems (several styles joined by ``+``).
DEFAULT_NAME = "{content}__{style}.png"
#: The default for ``--planes``: one output per plane.
DEFAULT_PLANE_NAME = "{content}_{plane}__{style}.png"


@dataclass(frozen=True)
class Job:
    """One output to make: ``task`` (``"stylize"``, ``"color"`` or ``"apply"``) on ``content``
    (its plane ``plane`` when a stack) with ``styles`` (for color, the one reference; for
    apply, the style image of a model that takes one, else none).

    ``options`` are the engine's keyword arguments (``iter_stylize``'s; for color ``method``
    and the transfer's ``options``; for apply, :func:`apply_jobs`'); ``row`` is the manifest row it came from;
    ``error`` says why the job cannot run (it is then recorded, never submitted).
    """

    task: str
    content: str
    styles: tuple[str, ...]
    output: str
    options: Mapping[str, Any] = field(default_factory=dict)
    plane: int | None = None
    row: int | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """How messages name the job: its manifest row, else its output."""
        return f"row {self.row}" if self.row is not None else Path(self.output).name


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row: its number (the header is row 1 in a CSV, the first line row 1 in
    JSON lines), the files it names and its option columns, as text."""

    number: int
    content: str
    styles: tuple[str, ...]
    output: str | None
    options: dict[str, str]
    error: str | None = None


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Files named by paths, globs (``frames/*.tif``, ``**`` recursive) and folders (their images)."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif glob.has_magic(str(path)):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        else:
            matches = [path]
        if not matches:
            raise OptionError(f"no image files match {pattern!r}", option="content")
        found.extend(m for m in matches if m not in found)
    return found


def count_planes(path: str | os.PathLike) -> int:
    """The number of planes (pages) of a TIFF stack, from its header."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return len(tif.pages)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(text).split(";") if part.strip())


def _row(number: int, values: Mapping[str, Any]) -> ManifestRow:
    values = {str(k).strip(): v for k, v in values.items() if k is not None and str(k).strip()}
    content = str(values.pop("content", "") or "").strip()
    styles = _split(values.pop("style", "") or "")
    output = str(values.pop("output", "") or "").strip() or None
    options = {k: str(v) for k, v in values.items() if v is not None and str(v).strip() != ""}
    error = None if content and styles else "needs a content and a style"
    return ManifestRow(number, content, styles, output, options, error)


def read_manifest(path: str | os.PathLike) -> list[ManifestRow]:
    """The rows of a ``.csv`` (with a header) or ``.jsonl`` (one object a line) manifest.

    Columns: ``content``, ``style`` (several separated by ``;``), optional ``output``, and any
    option as a column named as on the command line; an empty cell keeps the command's value.
    Relative paths are relative to the manifest's folder.
    """
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() == ".csv":
        rows = [_row(i, r) for i, r in enumerate(csv.DictReader(text.splitlines()), start=2)]
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append(ManifestRow(i, "", (), None, {}, f"not JSON: {exc.msg}"))
                continue
            if isinstance(values.get("style"), list):
                values["style"] = ";".join(values["style"])
            rows.append(_row(i, values) if isinstance(values, dict) else ManifestRow(i, "", (), None, {}, "not an object"))
    else:
        raise OptionError(f"manifest {path.name}: use a .csv or .jsonl file", option="manifest")
    base = path.parent

    def resolve(name: str) -> str:
        return str(name if os.path.isabs(name) else base / name)

    return [replace(r, content=resolve(r.content) if r.content else "", styles=tuple(resolve(s) for s in r.styles),
                    output=resolve(r.output) if r.output else None) for r in rows]


def output_name(template: str, *, content: str, styles: Sequence[str], plane: int | None, index: int) -> str:
    """The output file name from ``template``: fields ``content``, ``style``, ``plane``, ``index``."""
    fields = {"content": Path(content).stem, "style": "+".join(Path(s).stem for s in styles),
              "plane": "" if plane is None else f"{plane:04d}", "index": index}
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise OptionError(f"--name {template!r}: {exc!s}; fields are {', '.join('{' + k + '}' for k in fields)}",
                          option="name") from None


def cross_jobs(task: str, contents: Sequence[str | os.PathLike], styles: Sequence[str | os.PathLike], *,
               output_dir: str | os.PathLike, options: Mapping[str, Any], name: str | None = None,
               planes: bool = False) -> list[Job]:
    """One job per content file (per plane with ``planes``) and style file.

    For ``color`` each style is a reference. Outputs go to ``output_dir`` as ``name``
    (default :data:`DEFAULT_NAME`, :data:`DEFAULT_PLANE_NAME` with planes).
    """
    template = name or (DEFAULT_PLANE_NAME if planes else DEFAULT_NAME)
    jobs = []
    for content in map(str, contents):
        for plane in (range(count_planes(content)) if planes else [None]):
            for style in map(str, styles):
                output = Path(output_dir) / output_name(template, content=content, styles=[style], plane=plane,
                                                        index=len(jobs))
                jobs.append(Job(task, content, (style,), str(output), dict(options), plane))
    return jobs


def apply_jobs(contents: Sequence[str | os.PathLike], outputs: Sequence[str | os.PathLike], *,
               model: str | os.PathLike, model_name: str, sha256: str, style: str | os.PathLike | None = None,
               encoder: str | os.PathLike | None = None, encoder_sha256: str | None = None,
               options: Mapping[str, Any] | None = None) -> list[Job]:
    """One ``"apply"`` job per content image: the saved model ``model`` (checked against the full
    ``sha256``, which the job hash covers, so a changed model file redoes the outputs).

    ``encoder`` is a pytorch-AdaIN decoder's ``vgg_normalised.pth``, with its full
    ``encoder_sha256`` for the same reasons. ``options`` are
    :class:`~nst_engine.models.applying.ModelRun`'s (``size``, ``color``, ``color_options``,
    ``device``, ``precision``, ``threads``, the model's call options).
    """
    if len(contents) != len(outputs):
        raise OptionError(f"apply_jobs: {len(contents)} contents but {len(outputs)} outputs")
    shared = {"model": str(Path(model).resolve()), "model_name": model_name, "model_sha256": sha256,
              **dict(options or {})}
    if encoder is not None:  # only then: the other models' job hashes stay as they were
        if encoder_sha256 is None:
            raise OptionError("apply_jobs: an encoder needs its encoder_sha256, which the job hash covers")
        shared.update(encoder=str(Path(encoder).resolve()), encoder_sha256=encoder_sha256)
    styles = () if style is None else (str(style),)
    return [Job("apply", str(content), styles, str(output), dict(shared)) for content, output in zip(contents, outputs)]


def _identity(path: str) -> list[Any]:
    stat = os.stat(path)
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def job_hash(job: Job) -> str:
    """A digest of the job's task, options, plane and inputs' identity (path, size, mtime)."""
    text = json.dumps({"task": job.task, "options": job.options, "plane": job.plane,
                       "inputs": [_identity(p) for p in (job.content, *job.styles)]},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def check_jobs(jobs: Iterable[Job]) -> list[Job]:
    """The jobs with ``error`` set where an input is missing, two jobs share an output, or an
    output is an input of any job (writing it would replace a file another job reads)."""
    jobs = list(jobs)
    inputs = {str(Path(p).resolve()): p for job in jobs for p in (job.content, *job.styles)}
    seen: dict[str, str] = {}
    out = []
    for job in jobs:
        if job.error is None:
            missing = [p for p in (job.content, *job.styles) if not os.path.isfile(p)]
            key = str(Path(job.output).resolve())
            if missing:
                job = replace(job, error="no such file: " + ", ".join(missing))
            elif Path(job.output).suffix.lower() not in IMAGE_SUFFIXES:
                job = replace(job, error=f"output {job.output}: use a .png, .jpg or .tif name")
            elif key in inputs:
                job = replace(job, error=f"output {job.output} is the input {inputs[key]}, which is never overwritten; "
                                         "choose another output folder or name")
            elif key in seen:
                job = replace(job, error=f"same output as {seen[key]}: {job.output}")
            else:
                seen[key] = job.label
        out.append(job)
    return out
