"""Masked transcripts (`bot.tickets.transcript`): what of a chat may be stored with a ticket."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from bot.tickets.transcript import (
    SENSITIVE_SLOTS,
    mask_text,
    masked_transcript,
    readable,
    strip_controls,
)

T = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def user(text: str, at: float = T) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at,
            "parse_data": {"intent": {"name": "inform"}, "text": text}}


def bot(text: str | None, at: float = T) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "bot", "timestamp": at, "data": {}}
    if text is not None:
        event["text"] = text
    return event


def requested(slot: str | None, at: float = T) -> dict[str, Any]:
    return {"event": "slot", "name": "requested_slot", "value": slot, "timestamp": at}


# --- mask_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "masked"), [
    ("write to Jane.Doe+hd@Example.org please", "write to [e-mail] please"),
    ("j_doe@mail.school.k12.ma.us, or jd@x.io", "[e-mail], or [e-mail]"),
    ("born 03/14/1984", "born [date]"),
    ("3-14-84 or 3/14/84", "[date] or [date]"),
    ("1984-03-14", "[date]"),
    ("14.03.1984", "[date]"),
    ("March 14, 1984", "[date]"),
    ("on march 14 1984.", "on [date]."),
    ("14 March 1984", "[date]"),
    ("Mar 14 1984", "[date]"),
    ("Sept. 3rd, 1984 and 3rd of Sep 1984", "[date] and [date]"),
    ("call 508-555-0142", "call [phone]"),
    ("(508) 555-0142", "[phone]"),
    ("508.555.0142", "[phone]"),
    ("+1 508 555 0142", "[phone]"),
    ("+1-508-555-0142", "[phone]"),
    ("5085550142", "[phone]"),
    ("1-800-555-0100", "[phone]"),
    ("my SSN is 123-45-6789", "my SSN is [number]"),
    ("123 45 6789", "[number]"),
    ("id 123456789012", "id [number]"),
])
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", [
    "My reference is HD-2026-000123",
    "hd 2026 123 please",
    "Chrome 131.0.6778.86 on Windows 10.0.22631",
    "the server at 10.20.30.40",
    "12345678 is only eight digits",
    "Room 101, grade 7, May 2024",
    "I may 2 go",
    "The error said 'code 500'",
])
def test_ordinary_text_is_kept(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(("payload", "shown"), [
    ('/choose_system{"system": "massone"}', "MassONE"),
    ("/affirm", "Yes"),
    ('/inform{"ticket_field": "contact_email", "email": "jane@example.org"}',
     "(chose an option)"),
    ("/stop@0.95", "Stop"),
])
def test_button_payloads_read_as_words_not_intent_names(payload: str, shown: str) -> None:
    assert mask_text(payload) == shown


def test_a_chosen_button_shows_the_title_it_was_offered_with() -> None:
    offer = bot("Shall I send it?")
    offer["data"] = {"buttons": [{"title": "Yes, send it", "payload": "/affirm"},
                                 {"title": "Keep jane@example.org", "payload": "/inform"}]}
    texts = [entry["text"] for entry in masked_transcript(
        [offer, user("/affirm"), user("/inform"), user("/deny")])]
    assert texts == ["Shall I send it?", "Yes, send it", "Keep [e-mail]", "No"]
    assert not any("[button" in text or text.startswith("/") for text in texts)


def test_slash_text_that_is_no_payload_is_masked_as_text() -> None:
    assert mask_text("/03/14/1984") == "/[date]"
    assert mask_text("/help me with jane@example.org") == "/help me with [e-mail]"


def test_control_characters_are_removed() -> None:
    assert strip_controls("a\x1b[31mred\x07\x00 b\u202eevil") == "a[31mred bevil"
    assert mask_text("line one\nline two\ttab\r\n") == "line one line two tab"


# --- masked_transcript ----------------------------------------------------------------------


def test_entries_are_in_order_with_utc_times() -> None:
    events = [
        {"event": "action", "name": "action_listen", "timestamp": T},
        user("hello", T),
        bot("Hi! What can I do for you?", T + 1.5),
        {"event": "user_featurization", "timestamp": T + 2},
        user("I forgot my password", T + 60),
    ]
    assert masked_transcript(events) == [
        {"from": "user", "text": "hello", "at": "2023-11-14T22:13:20+00:00"},
        {"from": "bot", "text": "Hi! What can I do for you?", "at": "2023-11-14T22:13:21+00:00"},
        {"from": "user", "text": "I forgot my password", "at": "2023-11-14T22:14:20+00:00"},
    ]


def test_bot_messages_without_text_and_other_events_are_skipped() -> None:
    events = [
        bot(None),
        {"event": "bot", "text": None, "data": {"custom": {"faq_id": "x"}}, "timestamp": T},
        requested("request_answer"),
        {"event": "active_loop", "name": "password_form", "timestamp": T},
        {"event": "user", "text": "   ", "timestamp": T},
        user("ok"),
        {"event": "user", "text": "no time"},
    ]
    assert masked_transcript(events) == [
        {"from": "user", "text": "ok", "at": "2023-11-14T22:13:20+00:00"},
        {"from": "user", "text": "no time", "at": ""},
    ]


def test_the_answer_to_a_sensitive_question_is_replaced_entirely() -> None:
    assert {"birth_date", "first_name", "last_name", "email", "account_identifier"} == set(
        SENSITIVE_SLOTS)
    events = [
        requested("birth_date"),
        bot("What is your date of birth? For example 03/14/1985."),
        user("fourteenth of march eighty-four"),  # no pattern would catch this one
        user("/stop"),  # a button is still shown as a button
        requested("email"),
        user("it is jane@example.org"),
        requested(None),
        user("thanks, born 3/14/84 by the way"),
    ]
    assert [entry["text"] for entry in masked_transcript(events)] == [
        "What is your date of birth? For example [date].",
        "[date of birth]",
        "Stop",
        "[e-mail]",
        "thanks, born [date] by the way",
    ]


def test_a_restart_ends_the_sensitive_question() -> None:
    events = [requested("birth_date"), {"event": "restart"}, user("hello again")]
    assert masked_transcript(events)[0]["text"] == "hello again"


def test_payload_messages_show_what_the_user_chose() -> None:
    events = [user('/choose_system{"system": "massone"}'), user("/affirm")]
    assert [entry["text"] for entry in masked_transcript(events)] == ["MassONE", "Yes"]


def test_a_long_message_is_cut_quickly() -> None:
    long_text = "a" * 10_240
    started = time.perf_counter()
    [entry] = masked_transcript([user(long_text)])
    assert time.perf_counter() - started < 1.0
    assert entry["text"] == "a" * 1000 + "…"
    [short] = masked_transcript([user("x" * 50)], max_message_chars=10)
    assert short["text"] == "x" * 10 + "…"
    [exact] = masked_transcript([user("y" * 10)], max_message_chars=10)
    assert exact["text"] == "y" * 10


def test_an_address_at_the_cut_is_masked_not_halved() -> None:
    text = "x" * 995 + " jane.doe@example.org"  # the address straddles the limit
    [entry] = masked_transcript([user(text)])
    assert "jane" not in entry["text"] and "example" not in entry["text"]
    assert entry["text"].endswith("…")


def test_only_the_last_entries_are_kept() -> None:
    events = [user(f"message {n}", T + n) for n in range(250)]
    entries = masked_transcript(events)
    assert len(entries) == 200
    assert entries[0]["text"] == "message 50" and entries[-1]["text"] == "message 249"
    assert [e["text"] for e in masked_transcript(events, max_entries=3)] == [
        "message 247", "message 248", "message 249"
    ]


def test_a_realistic_conversation_keeps_no_address_date_or_number() -> None:
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": T},
        {"event": "session_started", "timestamp": T},
        user("hi, I can't log in to MassONE", T + 1),
        bot("Which system is it about?", T + 2),
        user('/choose_system{"system": "massone"}', T + 3),
        bot("What is your first name?", T + 4),
        requested("first_name", T + 4),
        user("Jane", T + 5),
        requested("birth_date", T + 6),
        bot("What is your date of birth? For example 03/14/1985.", T + 6),
        user("3/14/1984", T + 7),
        requested("email", T + 8),
        bot("What e-mail address is on the account?", T + 8),
        user("Jane.Doe@Example.org", T + 9),
        requested(None, T + 10),
        bot("If the details match, we sent a reset link to the address on file.", T + 10),
        user("my old address was jdoe84@old-school.k12.ma.us, phone (508) 555-0199", T + 11),
        user("also my badge number is 4412 8890 13 and born March 14, 1984", T + 12),
        bot("Thanks. Your reference is HD-2026-000123; call 781-338-3020 if needed.", T + 13),
        user("ok, my teacher id is 1984-03-14-A and I started 09/01/2024", T + 14),
    ]
    entries = masked_transcript(events)
    text = "\n".join(entry["text"] for entry in entries)
    assert "@" not in text
    assert not re.search(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}", text)
    assert not re.search(r"march 14|1984|3/14|555|0199|8890", text, re.IGNORECASE)
    assert "HD-2026-000123" in text  # the help desk needs the reference
    assert "[date of birth]" in text and "MassONE" in text and "choose_system" not in text
    assert "Jane" not in text and "[first name]" in text
    assert entries[0] == {"from": "user", "text": "hi, I can't log in to MassONE",
                          "at": "2023-11-14T22:13:21+00:00"}
    assert [entry["from"] for entry in entries].count("bot") == 6
    assert all(set(entry) == {"from", "text", "at"} for entry in entries)


def test_transcripts_stored_with_intent_names_read_as_words() -> None:
    assert readable("[button: affirm]") == "Yes"
    assert readable("[button: choose_system]") == "(chose an option)"
    assert readable("I pressed [button: affirm] twice") == "I pressed [button: affirm] twice"


def test_the_help_desk_s_own_contacts_stay_readable() -> None:
    said = ("Email massonehelp@doe.mass.edu or call 781-338-3020 or (781) 338-6600; "
            "you gave jane@example.org and (508) 555-0199.")
    assert mask_text(said) == (
        "Email massonehelp@doe.mass.edu or call 781-338-3020 or (781) 338-6600; "
        "you gave [e-mail] and [phone].")
