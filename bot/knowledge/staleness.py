"""Signs that an answer is likely out of date, with the reason, for the admins' review page.

The help documents date from 2007: they name browsers nobody runs (Internet Explorer 6,
Netscape 4.7), link over plain `http://` and mention dates long past. These are hints for a
person, not verdicts: the bot never rewrites the agency's facts by itself.
"""

from __future__ import annotations

import datetime as dt
import re

# (pattern, reason): software and programmes that have been retired.
RETIRED = (
    (re.compile(r"\bInternet Explorer\b(?: (?:version )?(\d+))?", re.IGNORECASE),
     "names Internet Explorer{version}: Microsoft retired it in 2022"),
    (re.compile(r"\bNetscape\b(?: Navigator)?(?: (?:version )?(\d+(?:\.\d+)*))?", re.IGNORECASE),
     "names Netscape{version}: discontinued in 2008"),
    (re.compile(r"\bMozilla (?:version )?(1)\b", re.IGNORECASE),
     "names Mozilla{version}: the Mozilla suite was discontinued in 2006"),
    (re.compile(r"\bFirefox (?:version )?([1-9])\b", re.IGNORECASE),
     "names Firefox{version} (2004-2011) as the oldest that works"),
    (re.compile(r"\bOpera (?:version )?([1-9])\b", re.IGNORECASE),
     "names Opera{version} (before 2010) as the oldest that works"),
    (re.compile(r"\bNCLB\b"),
     "names NCLB (No Child Left Behind), replaced by ESSA in 2015"),
)
HTTP_LINK = re.compile(r"http://[^\s<>\"')]+")
_MONTHS = ("January February March April May June July August September October November "
           "December").split()
_LONG_DATE = re.compile(rf"\b({'|'.join(_MONTHS)}) ([0-9]{{1,2}}), ([0-9]{{4}})\b")
_US_DATE = re.compile(r"(?<![\w/-])([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?![\w/-])")
_ISO_DATE = re.compile(r"(?<![\w-])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![\w-])")
# A year on its own ("in 2007"), not part of a reference (HD-2026-000123) or a phone number.
_YEAR = re.compile(r"(?<![\w/.-])((?:19|20)[0-9]{2})(?![\w/.-])")


def stale_reasons(
    text: str, links: tuple[str, ...] = (), today: dt.date | None = None
) -> list[str]:
    """Why `text` (an answer as the bot gives it) and its `links` look out of date; [] if
    nothing does. Each reason is a short sentence fragment an admin can act on."""
    today = today or dt.date.today()
    reasons: list[str] = []
    for pattern, reason in RETIRED:
        matches = list(pattern.finditer(text))
        if matches:
            versions = [m.group(1) for m in matches if pattern.groups and m.group(1)]
            version = " " + ", ".join(dict.fromkeys(versions)) if versions else ""
            reasons.append(reason.format(version=version))
    for url in dict.fromkeys([*HTTP_LINK.findall(text), *[u for u in links
                                                            if u.startswith("http://")]]):
        reasons.append(f"links over plain http:// ({url.rstrip('.,;:')})")
    reasons += _past_dates(text, today)
    return list(dict.fromkeys(reasons))


def _past_dates(text: str, today: dt.date) -> list[str]:
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for pattern, parse in (
        (_LONG_DATE, lambda m: (int(m[3]), _MONTHS.index(m[1]) + 1, int(m[2]))),
        (_US_DATE, lambda m: (int(m[3]), int(m[1]), int(m[2]))),
        (_ISO_DATE, lambda m: (int(m[1]), int(m[2]), int(m[3]))),
    ):
        for match in pattern.finditer(text):
            try:
                day = dt.date(*parse(match))
            except ValueError:
                continue
            spans.append(match.span())
            if day < today:
                found.append(f"mentions a date in the past ({match.group(0)})")
    for match in _YEAR.finditer(text):
        inside = any(start <= match.start() < end for start, end in spans)
        if not inside and int(match.group(1)) < today.year:
            found.append(f"mentions a past year ({match.group(1)})")
    return found
