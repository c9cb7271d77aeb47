"""Import the accounts directory from the agency's CSV export: all rows or none.

Columns (header row required, any order): system, user_name, first_name, last_name,
birth_date (YYYY-MM-DD or MM/DD/YYYY), email, district, school, status (optional: active,
inactive or deactivated; default active). Re-importing updates accounts, matched on
(system, user_name), rather than duplicating them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ACCOUNT_STATUSES, SYSTEMS, Account
from bot.validation import is_email, is_name, is_user_name, parse_birth_date

REQUIRED = ("system", "user_name", "first_name", "last_name", "birth_date", "email")
OPTIONAL = ("district", "school", "status")
MAX_FILE_BYTES = 20 * 1024 * 1024
_FREE_TEXT = re.compile(r"[^<>\x00-\x1f\x7f]*")


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


def _validate_row(row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    values = {key: (row.get(key) or "").strip() for key in (*REQUIRED, *OPTIONAL)}
    for key in REQUIRED:
        if not values[key]:
            problems.append(f"{key} is empty")
    if values["system"] and values["system"] not in SYSTEMS:
        problems.append(f"system must be one of {', '.join(SYSTEMS)}")
    if values["user_name"] and not is_user_name(values["user_name"]):
        problems.append("user_name must be 2-64 letters, digits, '.', '_' or '-'")
    for key in ("first_name", "last_name"):
        if values[key] and not is_name(values[key]):
            problems.append(f"{key} must be letters, spaces, hyphens, apostrophes (80 at most)")
    if values["email"] and not is_email(values["email"]):
        problems.append("email is not an address like name@example.org")
    for key in ("district", "school"):
        if len(values[key]) > 120 or not _FREE_TEXT.fullmatch(values[key]):
            problems.append(f"{key} must be plain text of 120 characters at most")
    values["status"] = values["status"].lower() or "active"
    if values["status"] not in ACCOUNT_STATUSES:
        problems.append(f"status must be one of {', '.join(ACCOUNT_STATUSES)}")
    if values["birth_date"]:
        try:
            values["birth_date"] = parse_birth_date(values["birth_date"])
        except ValueError as error:
            problems.append(f"birth_date {error}")
    values["email"] = values["email"].lower()
    return values, problems


def read_accounts(text: str) -> list[dict[str, Any]]:
    """Validated rows of a CSV export; raises ImportRejected listing every bad line."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in (*REQUIRED, *OPTIONAL)]
    if missing or unknown:
        reasons = [f"missing column {name!r}" for name in missing]
        reasons += [f"unknown column {name!r}" for name in unknown]
        raise ImportRejected([(1, "; ".join(reasons))])
    reader.fieldnames = header
    rows, problems, seen = [], [], {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append((line, "more fields than the header has columns"))
            continue
        values, row_problems = _validate_row(row)
        key = (values["system"], values["user_name"])
        if not row_problems and key in seen:
            row_problems.append(f"duplicate of line {seen[key]} ({key[0]}, {values['user_name']})")
        seen.setdefault(key, line)
        problems.extend((line, reason) for reason in row_problems)
        rows.append(values)
    if problems:
        raise ImportRejected(problems)
    if not rows:
        raise ImportRejected([(1, "the file has a header but no accounts")])
    return rows


def import_accounts(session: Session, text: str) -> ImportReport:
    """Insert or update every account of the export in one transaction, or none of them."""
    rows = read_accounts(text)
    report = ImportReport()
    with session.begin():
        for values in rows:
            existing = session.execute(
                select(Account).where(
                    Account.system == values["system"], Account.user_name == values["user_name"]
                )
            ).scalar_one_or_none()
            if existing is None:
                session.add(Account(**values))
                report.created += 1
            elif any(getattr(existing, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(existing, key, value)
                report.updated += 1
            else:
                report.unchanged += 1
    return report


def read_file(path: Path) -> str:
    """The export's text; ImportRejected for a file too big, or not UTF-8 text."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImportRejected([(0, f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")])
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRejected([(0, f"the file is not UTF-8 text ({error.reason})")]) from error
