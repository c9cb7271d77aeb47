"""Checks on each answer a request collects (field types of knowledge/tickets.yml).

`check_answer(field, text)` returns the value to store or raises `FieldProblem` with a reply
in plain words (and, for districts, the nearest names to offer as buttons). An
`account_choice` (the account to keep in a merge) must name one of the accounts given before,
by its name or as "the first" / "the second": `check_answer(..., facts=...)` gets them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil import parser as date_parser

from bot.tickets.kinds import CHOICE, RequestField
from bot.validation import (
    ImpossiblePhone,
    UnreadablePhone,
    email_problem,
    is_name,
    is_user_name,
    us_phone,
)

MAX_TEXT = 1000
MAX_SHORT = 120
MAX_NAME_WORDS = 8  # a school's or district's name, not a sentence
DATE_PAST = dt.timedelta(days=2 * 366)
DATE_FUTURE = dt.timedelta(days=366)
UNKNOWN_ANSWERS = frozenset({
    "i don't know", "i dont know", "don't know", "dont know", "idk", "no idea", "not sure",
    "i'm not sure", "im not sure", "skip", "none", "n/a", "na", "unknown", "i don't remember",
    "i dont remember", "don't remember", "no", "nope",
})
# "my e-mail is ...", "it's ...", "I work at ...": said before the answer itself.
_LEAD_IN = re.compile(
    r"^(?:(?:my|the|our)\s+)?(?:full\s+|correct\s+|daytime\s+|new\s+|old\s+)?"
    r"(?:name|e-?mail(?:\s+address)?|address|phone(?:\s+number)?|number|school|district|"
    r"user\s?name|date|reference)\s*(?:is|was|:)\s*"
    r"|^(?:it'?s|it\s+is|that'?s|i'?m|i\s+am|we'?re|we\s+are|i\s+(?:work|teach)\s+(?:at|in|for)"
    r"|at|from)\s+",
    re.IGNORECASE,
)
_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MARKUP = re.compile(r"[<>]")


@dataclass
class FieldProblem(Exception):
    """An answer that cannot be used; `reply` says why in plain words."""

    reply: str
    suggestions: tuple[str, ...] = ()


def clean(text: str) -> str:
    """Control characters removed and whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def check_answer(
    field: RequestField, text: str, today: dt.date | None = None,
    facts: dict[str, str] | None = None,
) -> str:
    """The value to store for `field`, or FieldProblem. "" means "the user doesn't know".

    `facts` are the answers so far (an `account_choice` chooses among them)."""
    value = clean(text)
    if field.optional and value.lower().strip(".!") in UNKNOWN_ANSWERS:
        return ""
    if not value:
        raise FieldProblem("I didn't get an answer there. " + field.prompt)
    if len(value) > MAX_TEXT:
        raise FieldProblem(
            f"That's {len(value):,} characters; I can take {MAX_TEXT:,} at most. "
            "Please shorten it to the essentials."
        )
    if field.type == CHOICE:
        return _account_choice(value, [(facts or {}).get(name, "") for name in field.of])
    if field.type != "text":
        value = _LEAD_IN.sub("", value).strip(" .!") or value
    return _CHECKS[field.type](value, today or dt.date.today())


# "the first (one)", "the second account", "the latter"; a bare "1", "two", "#2" too.
_ORDINALS = (
    re.compile(r"\b(?:first|1st|former)\b|^\W*(?:(?:the|number|no|account)\W+)*(?:1|one)\W*$",
               re.IGNORECASE),
    re.compile(r"\b(?:second|2nd|latter)\b|^\W*(?:(?:the|number|no|account)\W+)*(?:2|two)\W*$",
               re.IGNORECASE),
)
_ORDINAL_NAMES = ("first", "second")


def _account_choice(value: str, options: list[str]) -> str:
    """The option `value` names (as given before), by its text or its position."""
    named = set()
    rest = value
    for position, option in enumerate(options):
        if not option:
            continue
        said = re.compile(rf"(?<![\w.@-]){re.escape(option)}(?![\w.@-])", re.IGNORECASE)
        if said.search(value):
            named.add(position)
            rest = said.sub(" ", rest)  # "account first.one" says no ordinal
    for position, ordinal in enumerate(_ORDINALS[: len(options)]):
        if ordinal.search(rest.strip()):
            named.add(position)
    if len(named) == 1:
        return options[named.pop()]
    choices = " or ".join(
        f"\"{_shorten(option)}\" (the {_ORDINAL_NAMES[position]})"
        for position, option in enumerate(options[:2])
    )
    raise FieldProblem(f"Please tell me which of the two accounts to keep: {choices}.")


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _email(value: str, _today: dt.date) -> str:
    found = _EMAIL_IN_TEXT.findall(value)
    value = (found[0] if len(found) == 1 else value).lower().rstrip(".")
    if "@" not in value or len(found) > 1:
        raise FieldProblem(
            "That doesn't look like a complete e-mail address. Please type it like "
            "name@example.org."
        )
    problem = email_problem(value)
    if problem is not None:
        raise FieldProblem(
            f"That doesn't look like a complete e-mail address: {problem} Please check it and "
            "type it again, like name@example.org."
        )
    return value


def _phone(value: str, _today: dt.date) -> str:
    try:
        return us_phone(value)
    except UnreadablePhone:
        raise FieldProblem(
            "I couldn't read that phone number. Please type a 10-digit number, like "
            "781-555-0100 (add \"ext 12\" for an extension)."
        ) from None
    except ImpossiblePhone:
        raise FieldProblem(
            "That can't be a US phone number: please check the area code and the number, and "
            "type it like 781-555-0100."
        ) from None


def _name(value: str, _today: dt.date) -> str:
    if not is_name(value):
        raise FieldProblem(
            "That doesn't look like a name. Please use letters, spaces, hyphens or apostrophes "
            "(80 characters at most)."
        )
    return value


def _short_text(value: str, what: str) -> str:
    if (len(value) > MAX_SHORT or _MARKUP.search(value) or "@" in value
            or len(value.split()) > MAX_NAME_WORDS or not re.search(r"[^\W\d_]", value)):
        raise FieldProblem(
            f"Please type the {what}'s name in words ({MAX_SHORT} characters at most), for "
            f"example \"Lincoln Elementary School\"."
        )
    return value


def _school(value: str, _today: dt.date) -> str:
    return _short_text(value, "school")


def _district(value: str, _today: dt.date) -> str:
    from bot.knowledge.districts import SCHOOL, SEVERAL, match_district

    match = match_district(value)
    if match.name is not None:
        return match.name
    quoted = f"\"{value[:60]}\""
    if match.reason == SEVERAL:
        raise FieldProblem(
            f"{quoted} could mean more than one district. Which one is yours?",
            match.suggestions,
        )
    if match.reason == SCHOOL:
        raise FieldProblem(
            f"{quoted} sounds like a school. Which district, or which city or town, is it in?",
            match.suggestions,
        )
    if match.suggestions:
        raise FieldProblem(
            f"I don't know a Massachusetts district called {quoted}. Did you mean one of these?",
            match.suggestions,
        )
    raise FieldProblem(
        f"I don't know a Massachusetts district called {quoted}. Please type the district's "
        "name, for example Worcester or Acton-Boxborough."
    )


def _date(value: str, today: dt.date) -> str:
    try:
        # Parsed against two defaults: a missing month or day shows as a difference ("2026").
        parsed, check = (
            date_parser.parse(value, default=default, fuzzy=True).date()
            for default in (dt.datetime(today.year, 1, 1), dt.datetime(today.year, 2, 2))
        )
    except (ValueError, OverflowError) as error:
        raise FieldProblem(
            "I couldn't read that date. Please type it like 09/01/2026."
        ) from error
    if parsed != check:
        raise FieldProblem("Please give the day and the month too, like 09/01/2026.")
    if not today - DATE_PAST <= parsed <= today + DATE_FUTURE:
        raise FieldProblem(
            f"{parsed:%m/%d/%Y} is too far from today for this: please give a date within the "
            "last two years or the coming year, like 09/01/2026."
        )
    return parsed.isoformat()


def _user_name(value: str, _today: dt.date) -> str:
    if not is_user_name(value):
        raise FieldProblem(
            "A user name is 2-64 letters, digits, '.', '_' or '-'. Please type it again, or say "
            "\"I don't know\"."
        )
    return value


def _reference(value: str, _today: dt.date) -> str:
    from bot.tickets.service import format_reference, parse_reference

    parsed = parse_reference(value)
    if parsed is None:
        raise FieldProblem(
            "A reference looks like HD-2026-000123; you'll find it in the confirmation e-mail. "
            "Please type it again."
        )
    return format_reference(*parsed)


def _text(value: str, _today: dt.date) -> str:
    if len(value) < 2:
        raise FieldProblem("Could you say a little more?")
    return value


_CHECKS = {
    "email": _email,
    "phone": _phone,
    "name": _name,
    "school": _school,
    "district": _district,
    "date": _date,
    "user_name": _user_name,
    "reference": _reference,
    "text": _text,
}
