"""Masked conversation transcripts for tickets: what the help desk may read of a chat.

`masked_transcript` turns Rasa tracker events into `[{"from", "text", "at"}]`, keeping only
what was said. Before anything is stored, personal data is masked: the answer to a recovery
form's question (name, date of birth, e-mail, user name) entirely, by what was asked, as the
tracker store keeps it (`bot.privacy.redaction`), and anywhere else e-mail addresses, dates,
telephone numbers and long digit runs (SSN-like numbers), except the help desks' own
published addresses and numbers (the bot gives them in its answers). A button the user chose
shows its title ("Yes, send it"), never its payload.
Ticket references (HD-2026-000123) are kept: they are what the help desk looks up.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from bot.knowledge.entries import load_knowledge
from bot.privacy.redaction import ANSWER_LABELS

# Slots whose answers are replaced entirely, whatever was typed, by what was asked. (A ticket's
# own answers stay, masked: the ticket holds them anyway.)
SENSITIVE_ANSWERS = {
    slot: label for slot, label in ANSWER_LABELS.items() if slot != "request_answer"
}
SENSITIVE_SLOTS = frozenset(SENSITIVE_ANSWERS)
ELLIPSIS = "…"
# A message cut before masking keeps this much beyond the limit, so that an address or a number
# straddling the cut is still masked whole (an e-mail address is at most 254 characters).
_MASK_MARGIN = 256

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:\d{4}|'\d{2})"
# Named groups in priority order; at each position the first alternative that matches wins.
_PATTERNS = {
    # Kept as is: a ticket reference, so that its digits are not taken for a long number.
    "reference": r"\bHD[\s-]?20\d{2}[\s-]?\d{1,9}(?!\d)",
    "email": r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+",
    # numeric, not inside a longer dotted or dashed number (a version, an address)
    "numeric_date": (
        r"(?<!\d)(?<!\d[/.-])"
        r"(?:\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2}))"
        r"(?![\d/]|[.-]\d)"
    ),
    "date": (
        rf"\b{_MONTH}\s*{_DAY},?\s*{_YEAR}(?!\d)"
        rf"|\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s*{_YEAR}(?!\d)"
    ),
    "phone": r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}(?!\d)",
    "number": r"(?<!\d)\d(?:[ -]?\d){8,}(?!\d)",
}
_MASKS = {
    "reference": None,
    "email": "[e-mail]",
    "numeric_date": "[date]",
    "date": "[date]",
    "phone": "[phone]",
    "number": "[number]",
}
_PERSONAL = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items()), re.IGNORECASE
)
# A Rasa button payload: "/intent", "/intent{...json...}" or "/intent@0.9".
_PAYLOAD = re.compile(r"/([A-Za-z_][\w-]*)(?:\{.*\}|@[\d.]+)?\s*", re.DOTALL)
# Formatting characters that reorder or hide text on a terminal or a page.
_INVISIBLE = frozenset("\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def strip_controls(text: str) -> str:
    """`text` without control characters: line breaks and tabs become spaces, others go."""
    kept = []
    for char in text:
        if char in "\t\n\r\v\f":
            kept.append(" ")
        elif unicodedata.category(char) != "Cc" and char not in _INVISIBLE:
            kept.append(char)
    return "".join(kept).strip()


# What a person reads for a button payload whose title is not in the conversation.
BUTTON_WORDS = {
    "affirm": "Yes", "deny": "No", "greet": "(opened the chat)", "goodbye": "Goodbye",
    "stop": "Stop", "retry": "Send it again", "human_handoff": "Talk to a person",
    "forgot_password": "I forgot my password", "forgot_username": "I forgot my user name",
    "login_incorrect": "My login doesn't work", "help": "Help",
    "find_directory_admin": "Find my Directory Administrator",
}
SYSTEM_WORDS = {"ese_portal": "ESE Security Portal", "massone": "MassONE"}


def _button(text: str, titles: dict[str, str] | None = None) -> str | None:
    """What the user chose, as they saw it, when `text` is a button payload; else None.

    The title of the button offered with that payload (`titles`, from the bot's last
    message), masked like any text; else a plain word for the intent ("Yes" for affirm).
    """
    payload = _PAYLOAD.fullmatch(text)
    if not payload:
        return None
    if titles and text in titles:
        return _PERSONAL.sub(_mask_match, strip_controls(titles[text]))
    intent = payload.group(1)
    if intent == "choose_system":
        system = re.search(r'"system"\s*:\s*"(\w+)"', text)
        if system and system.group(1) in SYSTEM_WORDS:
            return SYSTEM_WORDS[system.group(1)]
    return BUTTON_WORDS.get(intent, "(chose an option)")


_OLD_BUTTON = re.compile(r"\[button: ([A-Za-z_][\w-]*)\]")


def readable(text: str) -> str:
    """A stored transcript line as people read it: "[button: affirm]", as transcripts stored
    before button titles were kept say, becomes "Yes"."""
    old = _OLD_BUTTON.fullmatch(text)
    if old is None:
        return text
    return BUTTON_WORDS.get(old.group(1), "(chose an option)")


def _plausible_date(text: str) -> bool:
    """Whether "1984-03-14", "03/14/84" or "14.03.84" can be a calendar date (M/D or D/M)."""
    parts = re.split(r"[/.-]", text)
    month_day = parts[1:] if len(parts[0]) == 4 else parts[:2]
    first, second = int(month_day[0]), int(month_day[1])
    return (1 <= first <= 12 and 1 <= second <= 31) or (1 <= second <= 12 and 1 <= first <= 31)


@lru_cache(maxsize=1)
def public_contacts() -> frozenset[str]:
    """The help desks' own e-mail addresses (lower case) and phone numbers (digits), as
    published in knowledge/sources.yml: no one's personal data, so never masked."""
    kept = set()
    for contact in load_knowledge().contacts.values():
        if contact.get("email"):
            kept.add(contact["email"].strip().lower())
        if contact.get("phone"):
            kept.add(re.sub(r"\D", "", contact["phone"])[-10:])
    return frozenset(kept)


def _mask_match(match: re.Match[str]) -> str:
    name, text = match.lastgroup or "", match.group(0)
    if name == "numeric_date" and not _plausible_date(text):
        return text  # "10.0.22" is a version, not a date
    if name == "email" and text.lower() in public_contacts():
        return text  # the help desk's own address, as the bot gives it
    if name == "phone" and re.sub(r"\D", "", text)[-10:] in public_contacts():
        return text
    mask = _MASKS[name]
    return text if mask is None else mask


def mask_text(text: str) -> str:
    """`text` with control characters removed and personal data masked.

    A button payload ("/affirm") becomes a plain word ("Yes"); elsewhere
    e-mail addresses, dates, telephone numbers and runs of 9 or more digits are replaced by
    "[e-mail]", "[date]", "[phone]" and "[number]".
    """
    text = strip_controls(text)
    return _button(text) or _PERSONAL.sub(_mask_match, text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + ELLIPSIS


def _offered(event: dict[str, Any]) -> dict[str, str]:
    """payload -> title of the buttons a bot event offered."""
    data = event.get("data")
    buttons = data.get("buttons") if isinstance(data, dict) else None
    return {button["payload"]: button["title"] for button in buttons or []
            if isinstance(button, dict) and isinstance(button.get("payload"), str)
            and isinstance(button.get("title"), str)}


def _at(event: dict[str, Any]) -> str:
    """The event's time as ISO-8601 UTC (seconds), or "" when it has none."""
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, (int, float)):
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def masked_transcript(
    events: list[dict[str, Any]], max_message_chars: int = 1000, max_entries: int = 200
) -> list[dict[str, str]]:
    """What the user and the bot said, in order, masked: `[{"from", "text", "at"}]`.

    A user message typed while a recovery form's slot was requested is replaced entirely. Other
    events (slots, actions, forms) are not shown; bot messages without text are skipped. Each
    message is cut to `max_message_chars` (plus "…"); only the last `max_entries` are kept.
    """
    entries: list[dict[str, str]] = []
    requested: Any = None
    titles: dict[str, str] = {}  # payload -> title of the buttons the bot offered last
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind in ("restart", "reset_slots"):
            requested = None
        elif kind in ("user", "bot"):
            raw = event.get("text")
            if not isinstance(raw, str) or not raw.strip():
                continue
            raw = raw[: max_message_chars + _MASK_MARGIN]  # masking time stays bounded
            if kind == "bot":
                titles = _offered(event) or titles
            if kind == "user" and requested in SENSITIVE_SLOTS:
                text = _button(strip_controls(raw), titles) or SENSITIVE_ANSWERS[requested]
            elif kind == "user":
                text = _button(strip_controls(raw), titles) or mask_text(raw)
            else:
                text = mask_text(raw)
            if text:
                entries.append({"from": kind, "text": _cut(text, max_message_chars),
                                "at": _at(event)})
    return entries[-max_entries:] if max_entries > 0 else []
