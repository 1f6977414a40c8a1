"""The report files: one table as Markdown, CSV and JSON, each written atomically."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ..files import atomic_write

__all__ = ["format_cell", "write_tables"]


def format_cell(value: Any, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def write_tables(output_dir: Path, stem: str, title: str, note: str, header: list[str],
                 table: list[list[str]], payload: dict) -> None:
    """``<stem>.md``, ``<stem>.csv`` and ``<stem>.json``, each written atomically."""
    lines = [f"# {title}", "", note, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
             *("| " + " | ".join(row) + " |" for row in table)]
    atomic_write(output_dir / f"{stem}.md", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(table)

    atomic_write(output_dir / f"{stem}.csv", write_csv)
    atomic_write(output_dir / f"{stem}.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=2)))
