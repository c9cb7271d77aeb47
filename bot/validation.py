"""Checks on what strangers type: names, e-mail addresses, dates of birth, user names.

Shared by the CSV import and the chat forms, so both accept exactly the same values.
"""

from __future__ import annotations

import datetime as dt
import re

from dateutil import parser as date_parser

MAX_NAME = 80
MAX_EMAIL = 254
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)
YOUNGEST_AGE_YEARS = 3
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
_NAME = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '.-])*", re.UNICODE)
_EMAIL = re.compile(r"[^@\s<>\"',;]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ISO_OR_US = ("%Y-%m-%d", "%m/%d/%Y")


def is_name(text: str) -> bool:
    return len(text) <= MAX_NAME and bool(_NAME.fullmatch(text))


def is_email(text: str) -> bool:
    return len(text) <= MAX_EMAIL and bool(_EMAIL.fullmatch(text))


def is_user_name(text: str) -> bool:
    return bool(_USER_NAME.fullmatch(text))


def _plausible(value: dt.date, today: dt.date | None) -> dt.date:
    latest = (today or dt.date.today()).replace(month=1, day=1)
    latest = latest.replace(year=latest.year - YOUNGEST_AGE_YEARS)
    if not OLDEST_BIRTH_DATE <= value <= latest:
        raise ValueError(f"{value:%m/%d/%Y} is not a plausible date of birth")
    return value


def parse_birth_date(text: str, today: dt.date | None = None) -> dt.date:
    """A plausible date of birth from YYYY-MM-DD or MM/DD/YYYY; ValueError says what is wrong."""
    text = text.strip()
    for pattern in _ISO_OR_US:
        try:
            return _plausible(dt.datetime.strptime(text, pattern).date(), today)
        except ValueError as error:
            if "plausible" in str(error):
                raise
    raise ValueError(f"{text!r} is not a date like 1985-03-14 or 03/14/1985")


_SHORT_YEAR = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{2})")


def _with_full_year(text: str, today: dt.date | None) -> str:
    match = _SHORT_YEAR.fullmatch(text)
    if not match:
        return text
    month, separator, day, short = match.groups()
    latest = (today or dt.date.today()).year - YOUNGEST_AGE_YEARS
    year = (latest // 100) * 100 + int(short)
    if year > latest:
        year -= 100
    return f"{month}{separator}{day}{separator}{year}"


def parse_spoken_birth_date(text: str, today: dt.date | None = None) -> dt.date:
    """Also accepts the ways people type dates in a chat ("March 14, 1985", "3-14-85" aside).

    Month before day when ambiguous (US usage). A two-digit year is read only in a numeric date
    ("3/14/84"), as the latest year that still makes a plausible date of birth.
    """
    text = _with_full_year(text.strip(), today)
    if len(text) > 40 or not re.search(r"\b(1[89]|20)\d\d\b", text):
        raise ValueError("I couldn't read that date")
    try:
        # Parsed against two different defaults: a missing month or day shows as a difference.
        first, second = (
            date_parser.parse(text, default=default, dayfirst=False, fuzzy=False).date()
            for default in (dt.datetime(2000, 1, 1), dt.datetime(2001, 2, 2))
        )
    except (ValueError, OverflowError) as error:
        raise ValueError("I couldn't read that date") from error
    if first != second:
        raise ValueError("I couldn't read that date: it needs a day, a month and a year")
    return _plausible(first, today)
