"""Checks on what strangers type: names, e-mail addresses, US phone numbers, dates of birth,
user names.

Shared by the CSV imports and the chat forms, so all accept exactly the same values. E-mail
addresses and phone numbers are checked by maintained libraries, not by patterns of our own:
`email-validator` (syntax only: no DNS lookup, ASCII addresses that an SMTP relay without
SMTPUTF8 can deliver to) and `phonenumbers` (a number that can exist in the US plan, so
"(000) 000-0000" or ".a..b@example.org" are refused).
"""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers
from dateutil import parser as date_parser
from email_validator import EmailNotValidError, validate_email
from phonenumbers import Leniency, PhoneNumberMatcher

MAX_NAME = 80
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_EXTENSION = 6
OLDEST_BIRTH_DATE = dt.date(1900, 1, 1)
YOUNGEST_AGE_YEARS = 3
_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
# Letters, with spaces, periods, hyphens and apostrophes, straight or as phones type them
# ("O’Neil"); matching folds them (bot.recovery.service.fold).
_NAME = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '.\u2018\u2019\u02bc\u2010\u2011-])*", re.UNICODE)
_ISO_OR_US = ("%Y-%m-%d", "%m/%d/%Y")


def is_name(text: str) -> bool:
    return len(text) <= MAX_NAME and bool(_NAME.fullmatch(text))


def email_problem(text: str) -> str | None:
    """Why `text` cannot be a deliverable e-mail address (email-validator's own sentence), or
    None when it can be one. Syntax only: the domain is not looked up."""
    if len(text) > MAX_EMAIL:
        return f"An e-mail address has {MAX_EMAIL} characters at most."
    try:
        validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def is_email(text: str) -> bool:
    return email_problem(text) is None


class UnreadablePhone(ValueError):
    """No single telephone number in the text (none, several, or other digits around it)."""


class ImpossiblePhone(ValueError):
    """A telephone number that cannot exist in the US numbering plan ("(000) 000-0000")."""


def _the_number(text: str) -> phonenumbers.PhoneNumberMatch:
    """The only telephone number written in `text` (UnreadablePhone when there is none, more
    than one, or a longer run of other digits besides it: "best after 3" is fine)."""
    if len(text) > MAX_PHONE:
        raise UnreadablePhone(f"a telephone number has {MAX_PHONE} characters at most")
    found = list(PhoneNumberMatcher(text, "US", leniency=Leniency.POSSIBLE))
    if len(found) != 1:
        raise UnreadablePhone("not exactly one telephone number")
    if re.search(r"\d{3,}", text[: found[0].start] + " " + text[found[0].end:]):
        raise UnreadablePhone("digits besides the telephone number")
    return found[0]


def us_phone(text: str) -> str:
    """The one US telephone number in `text` as "781-555-0100" (plus " ext 12" when given).

    Raises UnreadablePhone when there is no number, more than one, or other digits besides
    it, and ImpossiblePhone when the number cannot be a real US one.
    """
    number = _the_number(text).number
    extension = number.extension or ""
    if not phonenumbers.is_valid_number_for_region(number, "US") or (
        len(extension) > MAX_EXTENSION
    ):
        raise ImpossiblePhone("not a number of the US numbering plan")
    digits = str(number.national_number)
    formatted = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return f"{formatted} ext {extension}" if extension else formatted


def is_us_phone(text: str) -> bool:
    """Whether `text` is a real US telephone number and nothing else."""
    try:
        us_phone(text)
        match = _the_number(text)
    except ValueError:
        return False
    return not (text[: match.start] + text[match.end:]).strip()


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
