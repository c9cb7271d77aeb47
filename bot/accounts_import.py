"""Import the accounts directory from the agency's CSV export: all rows or none.

Columns (header row required, any order): system, user_name, first_name, last_name,
birth_date (YYYY-MM-DD or MM/DD/YYYY), email, district, school, status (optional: active,
inactive or deactivated; default active). Re-importing updates accounts, matched on
(system, user_name), rather than duplicating them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ACCOUNT_STATUSES, SYSTEMS, Account

REQUIRED = ("system", "user_name", "first_name", "last_name", "birth_date", "email")
OPTIONAL = ("district", "school", "status")
MAX_FILE_BYTES = 20 * 1024 * 1024
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)
YOUNGEST_AGE_YEARS = 3
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
_NAME = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '.-])*", re.UNICODE)
_EMAIL = re.compile(r"[^@\s<>\"',;]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
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


def parse_birth_date(text: str, today: dt.date | None = None) -> dt.date:
    """A plausible date of birth from YYYY-MM-DD or MM/DD/YYYY; ValueError says what is wrong."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            value = dt.datetime.strptime(text, pattern).date()
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"birth_date {text!r} is not a date like 1985-03-14 or 03/14/1985")
    latest = (today or dt.date.today()).replace(month=1, day=1)
    latest = latest.replace(year=latest.year - YOUNGEST_AGE_YEARS)
    if not OLDEST_BIRTH_DATE <= value <= latest:
        raise ValueError(f"birth_date {text} is not a plausible date of birth")
    return value


def _validate_row(row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    values = {key: (row.get(key) or "").strip() for key in (*REQUIRED, *OPTIONAL)}
    for key in REQUIRED:
        if not values[key]:
            problems.append(f"{key} is empty")
    if values["system"] and values["system"] not in SYSTEMS:
        problems.append(f"system must be one of {', '.join(SYSTEMS)}")
    if values["user_name"] and not _USER_NAME.fullmatch(values["user_name"]):
        problems.append("user_name must be 2-64 letters, digits, '.', '_' or '-'")
    for key in ("first_name", "last_name"):
        if values[key] and (len(values[key]) > 80 or not _NAME.fullmatch(values[key])):
            problems.append(f"{key} must be letters, spaces, hyphens, apostrophes (80 at most)")
    if values["email"] and (len(values["email"]) > 254 or not _EMAIL.fullmatch(values["email"])):
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
            problems.append(str(error))
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
