"""Importing a CSV export into a table: every row valid or nothing written, problems by line.

Shared by the accounts directory and the Directory Administrators imports: the file is UTF-8
(an Excel byte-order mark is fine) and at most 20 MB, the header row names the columns in any
order, and rows are matched on a key so re-importing updates rather than duplicates.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine, session_factory, upgrade

MAX_FILE_BYTES = 20 * 1024 * 1024

# Checks one row (stripped values of every known column): (values to store, problems).
RowValidator = Callable[[dict[str, str]], tuple[dict[str, Any], list[str]]]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportRejected(Exception):
    """The file was refused; nothing was written. `problems` are (line number, reason)."""

    problems: list[tuple[int, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(f"line {line}: {reason}" for line, reason in self.problems)


@dataclass(frozen=True)
class CsvFormat:
    """The columns of an export, the columns identifying a row, and what a row is called."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: tuple[str, ...]
    rows_name: str  # "accounts": "the file has a header but no accounts"


def read_file(path: Path) -> str:
    """The export's text; ImportRejected for a file too big, or not UTF-8 text."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRejected([(0, f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")])
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRejected([(0, f"the file is not UTF-8 text ({error.reason})")]) from error


def read_rows(text: str, spec: CsvFormat, validate: RowValidator) -> list[dict[str, Any]]:
    """Validated rows of the export; raises ImportRejected listing every bad line.

    A required column left empty is reported before `validate` sees the row; rows with the same
    key are reported as duplicates.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in spec.required if name not in header]
    unknown = [name for name in header if name not in (*spec.required, *spec.optional)]
    if missing or unknown:
        reasons = [f"missing column {name!r}" for name in missing]
        reasons += [f"unknown column {name!r}" for name in unknown]
        raise ImportRejected([(1, "; ".join(reasons))])
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append((line, "more fields than the header has columns"))
            continue
        stripped = {name: (row.get(name) or "").strip() for name in (*spec.required,
                                                                     *spec.optional)}
        row_problems = [f"{name} is empty" for name in spec.required if not stripped[name]]
        values, invalid = validate(stripped)
        row_problems += invalid
        key = tuple(values[name] for name in spec.key)
        if not row_problems and key in seen:
            row_problems.append(f"duplicate of line {seen[key]} ({', '.join(map(str, key))})")
        seen.setdefault(key, line)
        problems.extend((line, reason) for reason in row_problems)
        rows.append(values)
    if problems:
        raise ImportRejected(problems)
    if not rows:
        raise ImportRejected([(1, f"the file has a header but no {spec.rows_name}")])
    return rows


def upsert(
    session: Session, model: type, rows: Iterable[dict[str, Any]], key: Sequence[str]
) -> ImportReport:
    """Insert or update every row, matched on `key`, in one transaction, or none of them."""
    report = ImportReport()
    with session.begin():
        for values in rows:
            existing = session.execute(
                select(model).where(*(getattr(model, name) == values[name] for name in key))
            ).scalar_one_or_none()
            if existing is None:
                session.add(model(**values))
                report.created += 1
            elif any(getattr(existing, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(existing, name, value)
                report.updated += 1
            else:
                report.unchanged += 1
    return report


def import_file(
    database_url: str, path: Path, importer: Callable[[Session, str], ImportReport]
) -> int:
    """The `helpdesk ... import FILE` commands: run `importer` on the file and say what happened.

    Exit code 0 when imported, 1 when refused (every problem printed), 2 when there is no file.
    """
    try:
        text = read_file(path)
        upgrade(database_url)
        with session_factory(make_engine(database_url))() as session:
            report = importer(session, text)
    except FileNotFoundError:
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    except ImportRejected as rejected:
        print(f"{path}: nothing imported, {len(rejected.problems)} problem(s):", file=sys.stderr)
        print(rejected, file=sys.stderr)
        return 1
    print(f"{path}: {report.created} created, {report.updated} updated, "
          f"{report.unchanged} unchanged")
    return 0
