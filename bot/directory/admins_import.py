"""Import the Directory Administrators of each district from a CSV file: all rows or none.

Columns (header row required, any order): district, first_name, last_name, email, phone
(optional). The district may be written as listed ("Boxford", which typed in the chat could
also mean Masconomet) or any way `match_district` resolves confidently ("Worcester Public
Schools"), and is stored under its canonical name. Re-importing updates an
administrator, matched on (district, email), rather than duplicating them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.csv_import import CsvFormat, ImportReport, read_rows, upsert
from bot.knowledge.districts import DistrictMatch, canonical_name, match_district
from bot.models import DirectoryAdmin
from bot.validation import email_problem, is_name, is_us_phone

REQUIRED = ("district", "first_name", "last_name", "email")
OPTIONAL = ("phone",)
KEY = ("district", "email")
FORMAT = CsvFormat(required=REQUIRED, optional=OPTIONAL, key=KEY, rows_name="administrators")


def _unknown_district(text: str, suggestions: tuple[str, ...]) -> str:
    problem = f"district {text[:60]!r} is not a Massachusetts school district in the list"
    if suggestions:
        names = [repr(name) for name in suggestions]
        choice = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
        problem += f"; did you mean {choice}?"
    return problem


def _validate_row(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    if values["district"]:
        # The agency's list names districts as listed: "Boxford" is Boxford, not Masconomet.
        name = canonical_name(values["district"])
        match = match_district(values["district"]) if name is None else DistrictMatch(name)
        if match.name is None:
            problems.append(_unknown_district(values["district"], match.suggestions))
        else:
            values["district"] = match.name
    for key in ("first_name", "last_name"):
        if values[key] and not is_name(values[key]):
            problems.append(f"{key} must be letters, spaces, hyphens, apostrophes (80 at most)")
    email_wrong = email_problem(values["email"]) if values["email"] else None
    if email_wrong is not None:
        problems.append(f"email is not an address like name@example.org: {email_wrong}")
    if values["phone"] and not is_us_phone(values["phone"]):
        problems.append("phone is not a US number like (508) 555-0100, ext. 12")
    values["email"] = values["email"].lower()
    return values, problems


def read_admins(text: str) -> list[dict[str, Any]]:
    """Validated rows of the file; raises ImportRejected listing every bad line."""
    return read_rows(text, FORMAT, _validate_row)


def import_admins(session: Session, text: str) -> ImportReport:
    """Insert or update every administrator of the file in one transaction, or none of them."""
    return upsert(session, DirectoryAdmin, read_admins(text), KEY)
