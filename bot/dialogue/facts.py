"""Facts people give before they are asked, or wrapped in a sentence.

"my user name is ada.example and I forgot my ELAR password", "username bexample1, name Ben
Example, born 11/02/1979", "probably ada.example@example.org", "fine. Ben", "i moved from
worcster to springfeild public schools". Each finder returns a value only when the words around
it make clear what it is; anything unclear is left for the form to ask.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.validation import is_email, is_name, is_user_name, parse_spoken_birth_date

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_USER_NAME_CUE = re.compile(
    r"\b(?:user\s?name|user\s?id|login(?:\s+name)?|log-?in\s+id|account)\s*(?P<said>is|was|:|=|-)?\s*"
    r"(?P<value>[A-Za-z0-9][A-Za-z0-9._-]{1,63})",
    re.IGNORECASE,
)
# Words that follow a user-name cue without being a user name ("my username is wrong").
_NOT_A_USER_NAME = frozenset(
    "is was and or but the a an my for to of in on it wrong correct forgotten forgot lost "
    "either too also please".split()
)
_NAME_CUE = re.compile(
    r"\b(?:my\s+(?:full\s+)?name\s+is|my\s+name's|full\s+name\s*(?:is|:)|name\s*(?:is|:)?|"
    r"this\s+is|i\s+am|i'?m)\s+([^\W\d_][^\W\d_'’.-]*(?:[\s'’.-]+[^\W\d_][^\W\d_'’.-]*){0,3})",
    re.IGNORECASE,
)
_NAME_STOP_WORDS = frozenset(
    "born dob birthday birth username user email e-mail and my from at with i the a an "
    "locked trying looking calling a teacher".split()
)
_BIRTH_CUE = re.compile(
    r"\b(?:born(?:\s+on)?|dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday|b-?day)"
    r"\s*(?:is|:|-)?\s*([^,;]{4,40})",
    re.IGNORECASE,
)
# Short words said before an answer: "fine. Ben", "ok it's Example", "sure, 3/14/1984".
_FILLER = re.compile(
    r"^(?:(?:ok(?:ay)?|fine|sure|yes|yeah|yep|um+|uh+|hmm+|sorry|oops|well|so|right|alright|"
    r"it'?s|it\s+is|that'?s|my\s+(?:first\s+|last\s+|sur)?name\s+is|my\s+(?:first\s+|last\s+)?"
    r"name's|i'?m|i\s+am|this\s+is|the\s+name\s+is|name:?|probably|maybe|i\s+think(?:\s+it'?s)?)"
    r"[\s,.!:;-]+)+",
    re.IGNORECASE,
)


def find_email(text: str) -> str | None:
    """The one e-mail address in `text`, lower case; None if none or several."""
    found = {match.lower().rstrip(".") for match in _EMAIL.findall(text or "")}
    if len(found) != 1:
        return None
    value = found.pop()
    return value if is_email(value) else None


def find_user_name(text: str) -> str | None:
    """A user name introduced as one ("my user name is ada.example", "username: bexample1")."""
    for match in _USER_NAME_CUE.finditer(text or ""):
        value = match.group("value").rstrip(".,")
        end = match.end("value")
        if value.lower() in _NOT_A_USER_NAME or text[end:end + 1] == "@":
            continue
        # "my username is jsmith" is clear; after a bare "username" only a value that cannot be
        # an ordinary word counts ("username bexample1").
        distinctive = any(c.isdigit() or c in "._-" for c in value)
        # "Harold Brightwater, user name hbrightwater": the form the prompts themselves show.
        appended = text[:match.start()].rstrip().endswith(",") and \
            not text[end:].strip(" .!")
        if is_user_name(value) and (distinctive or appended or
                                    match.group("said") in ("is", ":", "=")):
            return value
    return None


def without_user_name(text: str) -> str:
    """`text` without a user name introduced as one ("Jo Doe, user name jdoe7" -> "Jo Doe")."""
    value = find_user_name(text)
    if value is None:
        return text
    for match in _USER_NAME_CUE.finditer(text):
        if match.group("value").rstrip(".,") == value:
            return (text[: match.start()] + text[match.end():]).strip(" ,;.-") or text
    return text


def find_full_name(text: str) -> tuple[str, str] | None:
    """First and last name introduced as a name ("name Ben Example", "I'm Ada Example")."""
    for match in _NAME_CUE.finditer(text or ""):
        parts = []
        for word in match.group(1).split():
            if word.lower() in _NAME_STOP_WORDS:
                break
            parts.append(word.strip(".,"))
        if len(parts) >= 2 and all(part[:1].isupper() for part in parts):
            name = " ".join(parts)
            if is_name(name):
                return parts[0], " ".join(parts[1:])
    return None


def find_birth_date(text: str) -> str | None:
    """A date of birth introduced as one ("born 11/02/1979", "dob: March 14 1984"), ISO."""
    for match in _BIRTH_CUE.finditer(text or ""):
        try:
            return parse_spoken_birth_date(match.group(1).strip(" .")).isoformat()
        except ValueError:
            continue
    return None


def find_reference(text: str) -> str | None:
    """A ticket reference inside a sentence ("whats up with hd 2026 17"), as HD-2026-000017."""
    from bot.tickets.references import find_reference as find

    return find(text)


_HEDGE_AFTER = re.compile(
    r"[\s,]+(?:i\s+think|i\s+believe|i\s+guess|probably|maybe|lol|haha|thanks?|thx|"
    r"i'?m\s+pretty\s+sure|if\s+i\s+remember\s+right)[\s.!?]*$",
    re.IGNORECASE,
)


def strip_filler(text: str) -> str:
    """The answer without the words people say before or after it ("fine. Ben" -> "Ben",
    "mgrady3 i think" -> "mgrady3")."""
    stripped = _FILLER.sub("", (text or "").strip())
    stripped = _HEDGE_AFTER.sub("", stripped)
    return stripped.strip(" .!,") or (text or "").strip()


@dataclass(frozen=True)
class NamedPair:
    """Two names typed at once where one was asked for ("Ada Example")."""

    first: str
    last: str


def split_full_name(text: str) -> NamedPair | None:
    """"Ada Example" typed where the first name is asked: both names, if it is clearly two."""
    parts = strip_filler(text).split()
    if len(parts) != 2 or not all(is_name(part) for part in parts):
        return None
    return NamedPair(parts[0], parts[1])


_MOVE = re.compile(
    r"\bfrom\s+(?P<old>[a-z][a-z .'-]{2,40}?)\s+(?:public\s+schools?\s+|schools?\s+)?to\s+"
    r"(?P<new>[a-z][a-z .'-]{2,40}?)(?:\s+public\s+schools?|\s+schools?|\s+district)?"
    r"(?=$|[,.;!?]|\s+(?:this|last|in|on|at|and|but|so|starting|since|for|what|how)\b)",
    re.IGNORECASE,
)


def find_move(text: str, match_district: Any) -> tuple[str | None, str | None]:
    """(old, new) districts of "I moved from Worcester to Springfield", each None if unclear.

    `match_district` resolves a typed name to a canonical district (bot.knowledge.districts).
    """
    found = _MOVE.search(text or "")
    if not found:
        return None, None
    old, new = (match_district(found.group(group)).name for group in ("old", "new"))
    return old, new


def entity_values(entities: Iterable[dict[str, Any]], name: str) -> list[str]:
    return [str(e["value"]) for e in entities if e.get("entity") == name and e.get("value")]


_PLACE_ASKED = re.compile(
    r"\b(?:for|in|at|of)\s+(?P<place>[a-z][a-z .'\u2019-]{1,40}?)"
    r"(?:\s+(?:right now|now|please|then|today|currently|again|thanks?))*\s*[?.!]*$",
    re.IGNORECASE,
)


def place_asked_about(text: str) -> str | None:
    """The place at the end of a question ("who is the DA for hudson right now?" -> "hudson",
    "which person is the directory administrator in Dover?" -> "Dover"), if any."""
    for sentence in reversed(re.split(r"(?<=[?.!])\s+", (text or "").strip())):
        match = _PLACE_ASKED.search(sentence.strip())
        if match:
            return match.group("place").strip()
    return None
