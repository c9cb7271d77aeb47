"""Passwords typed into the chat (issue 11, item 8) and what the channels do with every message
before Rasa reads it (items 1 and 7): `bot.privacy.passwords`, `bot.rasa_plugins.incoming`.
The same over real HTTP: tests/test_trust_boundaries.py."""

from __future__ import annotations

import asyncio
import logging

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.privacy.passwords import PASSWORD_LABEL, WARNING, hide_passwords
from bot.privacy.redaction import redact_events
from bot.rasa_plugins.incoming import TOO_LONG, screened


@pytest.mark.parametrize(("typed", "kept"), [
    ("my username is jdoe7 and my password is Summer2024!",
     "my username is jdoe7 and my password is [password]"),
    ("password: hunter2", "password: [password]"),
    ("Password:hunter2", "Password:[password]"),
    ("pw is tiger99", "pw is [password]"),
    ("my pwd = s3cr3t, thanks", "my pwd = [password], thanks"),
    ("my password is: correcthorse", "my password is: [password]"),
    ("my password is sunshine.", "my password is [password]."),
    ("my password was Welcome1 but it stopped working",
     "my password was [password] but it stopped working"),
    ('my password is "open sesame 42"', "my password is [password]"),
    ("my passcode is 4821", "my passcode is [password]"),
])
def test_a_password_given_is_hidden(typed: str, kept: str) -> None:
    assert hide_passwords(typed) == (kept, True)


@pytest.mark.parametrize("typed", [
    "I forgot my password",
    "my password is not working",
    "my password is wrong",
    "my password is incorrect",
    "my password expired",
    "my password was reset yesterday",
    "my password is case sensitive?",
    "is the password case sensitive",
    "what should my password be?",
    "passwords are case sensitive",
    "the password should be at least 8 characters",
    "my password is locked",
    "my password is [password]",
])
def test_talking_about_a_password_is_kept(typed: str) -> None:
    assert hide_passwords(typed) == (typed, False)


def test_the_tracker_store_hides_a_password_too() -> None:
    """A message that came in some other way (not through our channels) is stored hidden."""
    events = [{"event": "user", "text": "password: hunter2",
               "parse_data": {"text": "password: hunter2", "entities": []}}]
    [stored] = redact_events(events)
    assert stored["text"] == stored["parse_data"]["text"] == f"password: {PASSWORD_LABEL}"
    assert redact_events([stored]) == [stored]


def _screen(text: str, fails: bool = False) -> tuple[list[str], list[str]]:
    """The texts the handler got and the replies sent, for one message through `screened`."""
    handled: list[str] = []

    async def handler(message: UserMessage) -> None:
        handled.append(message.text)
        if fails:
            raise RuntimeError(f"could not handle {message.text}")

    output = CollectingOutputChannel()
    asyncio.run(screened(handler)(UserMessage(text, output, "someone")))
    return handled, [message["text"] for message in output.messages]


def test_a_long_message_gets_the_short_reply_and_is_not_handled() -> None:
    handled, replies = _screen("a" * 2001)
    assert handled == [] and replies == [TOO_LONG.format(limit=2000)]
    handled, replies = _screen("a" * 2000)
    assert handled == ["a" * 2000] and replies == []


def test_the_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_MESSAGE_MAX_CHARS", "500")
    handled, replies = _screen("a" * 501)
    assert handled == [] and "500 characters" in replies[0]


def test_a_password_is_hidden_before_the_handler_and_the_user_warned() -> None:
    handled, replies = _screen("username jdoe7 password: Hunter2!")
    assert handled == [f"username jdoe7 password: {PASSWORD_LABEL}"]
    assert replies == [WARNING]


def test_a_failure_is_logged_without_the_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        _screen("my e-mail is ada.example@example.org", fails=True)
    assert "RuntimeError" in caplog.text
    assert "ada.example" not in caplog.text
