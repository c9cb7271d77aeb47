"""Import the accounts directory from the agency's CSV export: all rows or none.

Columns (header row required, any order): system, user_name, first_name, last_name,
birth_date (YYYY-MM-DD or MM/DD/YYYY), email, district, school, status (optional: active,
inactive or deactivated; default active). Re-importing updates accounts, matched on
(system, user_name), rather than duplicating them.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from bot.csv_import import CsvFormat, ImportRejected, ImportReport, read_file, read_rows, upsert
from bot.models import ACCOUNT_STATUSES, SYSTEMS, Account
from bot.validation import email_problem, is_name, is_user_name, parse_birth_date

__all__ = ["ImportRejected", "ImportReport", "import_accounts", "read_accounts", "read_file"]

REQUIRED = ("system", "user_name", "first_name", "last_name", "birth_date", "email")
OPTIONAL = ("district", "school", "status")
KEY = ("system", "user_name")
FORMAT = CsvFormat(required=REQUIRED, optional=OPTIONAL, key=KEY, rows_name="accounts")
_FREE_TEXT = re.compile(r"[^<>\x00-\x1f\x7f]*")


def _validate_row(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    if values["system"] and values["system"] not in SYSTEMS:
        problems.append(f"system must be one of {', '.join(SYSTEMS)}")
    if values["user_name"] and not is_user_name(values["user_name"]):
        problems.append("user_name must be 2-64 letters, digits, '.', '_' or '-'")
    for key in ("first_name", "last_name"):
        if values[key] and not is_name(values[key]):
            problems.append(f"{key} must be letters, spaces, hyphens, apostrophes (80 at most)")
    email_wrong = email_problem(values["email"]) if values["email"] else None
    if email_wrong is not None:
        problems.append(f"email is not an address like name@example.org: {email_wrong}")
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
    return read_rows(text, FORMAT, _validate_row)


def import_accounts(session: Session, text: str) -> ImportReport:
    """Insert or update every account of the export in one transaction, or none of them."""
    return upsert(session, Account, read_accounts(text), KEY)
