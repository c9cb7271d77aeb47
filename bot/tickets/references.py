"""Ticket references: one grammar, used wherever a reference is read (the status form, a
sentence in the chat, a reply's address or subject, the CLI).

A reference reads HD-<year created>-<id, 6 digits or more>. People type it as "hd 2026 17",
"HD_2026_000017", "HD–2026–000017" (the en dash phones and word processors put in),
"HD2026000017", or with full-width letters: every dash, underscore and space between the parts
is accepted, and letters and digits are NFKC-normalised first.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TICKET_ID = 2**31 - 1  # an INTEGER column: a larger id cannot exist (nor be queried)
# Between the parts: any run of spaces, underscores, hyphens, dashes (U+2010-2015) and minus.
_GAP = r"[\s_\-\u2010-\u2015\u2212]*"
_PARTS = rf"HD{_GAP}([0-9]{{4}}){_GAP}([0-9]{{1,10}})"
_REFERENCE = re.compile(_PARTS, re.IGNORECASE)
_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9]){_PARTS}(?![0-9])", re.IGNORECASE)


def format_reference(year: int, ticket_id: int) -> str:
    """"HD-2026-000123": the year the ticket was created and its id."""
    return f"HD-{year}-{ticket_id:06d}"


def _checked(year: int, ticket_id: int) -> tuple[int, int] | None:
    if year < 1 or not 1 <= ticket_id <= MAX_TICKET_ID:
        return None
    return year, ticket_id


def parse_reference(text: str) -> tuple[int, int] | None:
    """(year, id) from " hd-2026-123 ", "HD 2026 000123", "HD_2026_123" or "HD–2026–123";
    None if the whole text is not one reference."""
    match = _REFERENCE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    return _checked(int(match.group(1)), int(match.group(2)))


def find_reference(text: str) -> str | None:
    """The first reference inside a sentence ("whats up with hd 2026 17"), as HD-2026-000017."""
    for match in _IN_TEXT.finditer(unicodedata.normalize("NFKC", text or "")):
        parsed = _checked(int(match.group(1)), int(match.group(2)))
        if parsed is not None:
            return format_reference(*parsed)
    return None
