"""What the stored copy of a conversation keeps of the personal data the forms collect.

Rasa keeps every event of a conversation in its tracker store: the user's messages, the bot's
replies and every slot change. The recovery forms collect a name, a date of birth, an e-mail
address and a user name (`first_name`, `last_name`, `birth_date`, `email`,
`account_identifier`); the request form collects the facts of a ticket (`request_facts`, and the
raw answer in `request_answer`). `redact_events` returns the events as they may be stored:

* **Answers.** A user message typed while a form asked for one of these is replaced by what was
  asked ("[date of birth]", "[answer]"), its entities dropped; a button payload keeps its intent
  only. Nothing ever needs the text of an old message again: the form has the validated value
  in its slot, and the next turn reads only its own message.
* **Slot values.** A value that is no longer the slot's current one (overwritten, cleared, or
  before a restart or a new session) is stored as None, so replaying the events gives the same
  current state. The current value is kept only while a form is active, because the running
  form needs it in the next turn (the tracker is read back from the store every turn); once the
  form is done, stopped or abandoned by a new session, the value is stored as None as well.
* **Passwords** typed in any message ("my password is ...") are hidden
  (`bot.privacy.passwords`); the chat channels hide them on arrival already.
* **Elsewhere.** Any collected value that shows up in another message (the read-back of a
  ticket's facts, the address a confirmation went to, a name typed in the opening message) is
  replaced there by what it was ("[e-mail]", "[detail]").

The redaction is idempotent (a redacted event redacts to itself) and reads nothing but the
events, so it runs again on every save. The transcript agents read (`bot.tickets.transcript`)
is built from the live tracker when a ticket is filed; on a redacted history it shows what was
asked instead of what was answered, which stays readable.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from bot.privacy.passwords import hide_passwords

# What a message answering each slot becomes, and what the slot's values become elsewhere.
ANSWER_LABELS = {
    "first_name": "[first name]",
    "last_name": "[last name]",
    "birth_date": "[date of birth]",
    "email": "[e-mail]",
    "account_identifier": "[user name or e-mail]",
    "request_answer": "[answer]",
}
FACT_LABEL = "[detail]"  # a ticket fact (request_facts) quoted elsewhere
SENSITIVE_SLOTS = frozenset({*ANSWER_LABELS, "request_facts"})
# Events after which no slot value of before is current any more.
_FORGETTING = frozenset({"restart", "reset_slots", "session_started"})
_PAYLOAD = re.compile(r"\s*/")
MIN_QUOTED = 2  # shorter values are not looked for in other messages
_RAW_QUOTED = frozenset({"birth_date", "email", "account_identifier"})


def redact_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`events` (Rasa's `Event.as_dict()` form, in order) as they may be stored; the events
    that change are copies, the others the same objects."""
    live = _live_slot_events(events)
    quoted = _quoted_values(events)
    redacted: list[dict[str, Any]] = []
    asked: str | None = None
    form: str | None = None
    for position, event in enumerate(events):
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            asked = event.get("value")
        elif kind == "active_loop":
            form = event.get("name")
            asked = asked if form else None
        elif kind in _FORGETTING:
            form = asked = None
        if kind == "slot" and event.get("name") in SENSITIVE_SLOTS:
            event = _slot(event, keep=position in live)
        elif kind == "user":
            label = ANSWER_LABELS.get(asked or "") if form else None
            event = _user(event, label, quoted)
        elif kind == "bot":
            event = _bot(event, quoted)
        redacted.append(event)
    return redacted


def _live_slot_events(events: list[dict[str, Any]]) -> set[int]:
    """Positions of the SlotSet events that hold a sensitive slot's current value while a form
    is active (the running form reads them next turn); empty when no form is active."""
    form: str | None = None
    for event in events:
        if event.get("event") == "active_loop":
            form = event.get("name")
        elif event.get("event") in _FORGETTING:
            form = None
    if form is None:
        return set()
    live: set[int] = set()
    seen: set[str] = set()
    for position in range(len(events) - 1, -1, -1):
        event = events[position]
        if event.get("event") in _FORGETTING:
            break
        name = event.get("name")
        if event.get("event") == "slot" and name in SENSITIVE_SLOTS and name not in seen:
            seen.add(name)
            if event.get("value") is not None:
                live.add(position)
    return live


def _quoted_values(events: list[dict[str, Any]]) -> list[tuple[re.Pattern[str], str]]:
    """Every value a form accepted, as a whole-word pattern with its label, longest first.

    Accepted means the slot's value at the end of a turn: the raw text Rasa puts in the slot
    first is replaced by the validated value (or None) in the same turn. Raw answers to the
    date of birth, e-mail and user-name questions count too (whatever was typed there is
    personal); raw names do not ("I don't know" typed as a name must not hide every "I don't
    know"). A date of birth is also looked for as 03/14/1984 and 3/14/1984; a ticket
    reference, which agents look up, is kept.
    """
    labels: dict[str, str] = {}
    turn: dict[str, Any] = {}

    def quote(name: str, values: Any) -> None:
        for text in _strings(values):
            label = ANSWER_LABELS["email"] if "@" in text else ANSWER_LABELS.get(name, FACT_LABEL)
            for variant in (text, *_date_variants(text)):
                labels.setdefault(variant, label)

    def end_of_turn() -> None:
        for name, value in turn.items():
            if isinstance(value, dict):
                quote(name, (fact for key, fact in value.items() if key != "reference"))
            else:
                quote(name, [value])
        turn.clear()

    for event in events:
        name = event.get("name")
        if event.get("event") == "user":
            end_of_turn()
        elif event.get("event") == "slot" and name in SENSITIVE_SLOTS - {
            "request_answer"  # "yes", "/affirm": redacted where typed, never quoted
        }:
            if name in _RAW_QUOTED and turn.get(name) is not None:
                quote(name, [turn[name]])
            turn[name] = event.get("value")
    end_of_turn()
    # Names as typed ("Will" is not "will"); addresses in any case.
    return [
        (re.compile(rf"(?<![\w@./-]){re.escape(text)}(?![\w@/-])",
                    re.IGNORECASE if "@" in text else 0), label)
        for text, label in sorted(labels.items(), key=lambda item: -len(item[0]))
    ]


def _date_variants(text: str) -> tuple[str, ...]:
    """ "1984-03-14" also as "03/14/1984" and "3/14/1984"; nothing for other text."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return ()
    return (f"{day:%m/%d/%Y}", f"{day.month}/{day.day}/{day.year}")


def _strings(values: Any) -> Iterator[str]:
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= MIN_QUOTED and value not in (
            *ANSWER_LABELS.values(), FACT_LABEL
        ):
            yield value.strip()


def _replace_quoted(text: str, quoted: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, label in quoted:
        text = pattern.sub(label, text)
    return text


def _slot(event: dict[str, Any], keep: bool) -> dict[str, Any]:
    if keep or event.get("value") is None:
        return event
    return {**event, "value": None}


def _user(
    event: dict[str, Any], label: str | None, quoted: list[tuple[re.Pattern[str], str]]
) -> dict[str, Any]:
    text = event.get("text")
    if not isinstance(text, str):
        return event
    if label is not None:
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        new_text = f"/{intent}" if _PAYLOAD.match(text) and intent else label
        entities: list[Any] = []
    else:
        new_text = hide_passwords(_replace_quoted(text, quoted))[0]
        entities = (event.get("parse_data") or {}).get("entities") or []
        if new_text != text:
            entities = []  # their values come from the text
    if new_text == text:
        return event
    redacted = copy.deepcopy(event)
    redacted["text"] = new_text
    if isinstance(redacted.get("parse_data"), dict):
        redacted["parse_data"]["text"] = new_text
        redacted["parse_data"]["entities"] = entities
    return redacted


def _bot(event: dict[str, Any], quoted: list[tuple[re.Pattern[str], str]]) -> dict[str, Any]:
    if not quoted:
        return event
    redacted = copy.deepcopy(event)
    if isinstance(redacted.get("text"), str):
        redacted["text"] = _replace_quoted(redacted["text"], quoted)
    for button in (redacted.get("data") or {}).get("buttons") or []:
        for key in ("title", "payload"):
            if isinstance(button.get(key), str) and not button[key].startswith("/"):
                button[key] = _replace_quoted(button[key], quoted)
    return redacted if redacted != event else event
