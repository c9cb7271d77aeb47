"""The actions that send mail or file a ticket trust nothing in the tracker they are sent
(issue 11, item 5), and a failing service never shows or logs what the user typed (item 7).

A forged request to the action server once filed a ticket to three addresses with invented
"identity verified" facts: every fact is now checked again, as if typed, before anything is
sent. A locked database once made the action server log the failing SQL with the user's
e-mail address and user name as its parameters.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from actions.forms import ActionRequestPasswordReset, ActionRequestUsername
from actions.requests import ActionCompleteRequest
from bot.db import make_engine, session_factory
from bot.models import OutboxMail, RecoveryAttempt, Ticket

GOOD_IDENTITY = {"first_name": "Ada", "last_name": "Example", "birth_date": "1984-03-14",
                 "email": "ada.example@example.org", "account_identifier": "ada.example"}
HANDOFF = {"summary": "My MassONE roster is missing students.",
           "contact_email": "jo.teacher@example.org"}


def tracker(**slots: Any) -> Tracker:
    return Tracker(
        sender_id="forged", slots={"system": "ese_portal", **slots},
        latest_message={"text": "yes", "intent": {"name": "affirm"}, "entities": []},
        events=[], paused=False, followup_action=None, active_loop={},
        latest_action_name="request_form",
    )


def run(action: Any, tracker_: Tracker) -> str:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker_, {}))
    return " ".join(message.get("text") or "" for message in dispatcher.messages)


def count(url: str, model: type) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


# ---------------------------------------------------------------- forged trackers: recovery
@pytest.mark.parametrize("forged", [
    {"email": "victim@example.org\r\nBcc: many@example.org"},
    {"first_name": "<script>alert(1)</script>"},
    {"birth_date": "identity verified"},
    {"birth_date": "1850-01-01"},
    {"last_name": None},
    {"email": ["a@example.org", "b@example.org"]},
])
def test_a_forged_identity_sends_nothing(action_database: str, forged: dict) -> None:
    said = run(ActionRequestUsername(), tracker(**{**GOOD_IDENTITY, **forged}))
    assert "couldn't use those details" in said
    assert count(action_database, RecoveryAttempt) == 0
    assert count(action_database, OutboxMail) == 0


def test_a_forged_reset_request_sends_nothing(action_database: str) -> None:
    forged = {**GOOD_IDENTITY, "account_identifier": "ada example; DROP TABLE accounts"}
    assert "couldn't use those details" in run(ActionRequestPasswordReset(), tracker(**forged))
    assert "couldn't use those details" in run(
        ActionRequestPasswordReset(), tracker(**GOOD_IDENTITY, system="elsewhere"))
    assert count(action_database, RecoveryAttempt) == 0


def test_checked_details_are_acted_on(action_database: str) -> None:
    """The same actions with details as the form stores them: the request is made."""
    said = run(ActionRequestUsername(), tracker(**GOOD_IDENTITY))
    assert "If those details match" in said
    said = run(ActionRequestPasswordReset(), tracker(**GOOD_IDENTITY))
    assert "If those details match" in said
    assert count(action_database, RecoveryAttempt) == 2


# ---------------------------------------------------------------- forged trackers: tickets
@pytest.mark.parametrize("facts", [
    {**HANDOFF, "identity_verified": "yes, by the agent"},  # a fact the kind does not have
    {**HANDOFF, "contact_email": "a@example.org, b@example.org, c@example.org"},
    {**HANDOFF, "contact_email": "a@example.org\nBcc: b@example.org"},
    {"summary": "x", "contact_email": "jo.teacher@example.org"},
    {"summary": "Help"},  # a fact missing
    "not a dict",
])
def test_a_forged_request_files_no_ticket(action_database: str, facts: Any) -> None:
    said = run(ActionCompleteRequest(), tracker(request_kind="human_handoff",
                                                request_facts=facts))
    assert "couldn't use those details" in said and "HD-" not in said
    assert count(action_database, Ticket) == 0
    assert count(action_database, OutboxMail) == 0


def test_an_unknown_kind_or_system_files_no_ticket(action_database: str) -> None:
    for slots in ({"request_kind": "grant_admin_rights"},
                  {"request_kind": "human_handoff", "system": "the moon"}):
        said = run(ActionCompleteRequest(), tracker(request_facts=HANDOFF, **slots))
        assert "couldn't use those details" in said
    assert count(action_database, Ticket) == 0


def test_checked_facts_file_the_ticket(action_database: str) -> None:
    said = run(ActionCompleteRequest(), tracker(request_kind="human_handoff",
                                                request_facts=HANDOFF))
    assert "Done: your request is HD-" in said
    assert count(action_database, Ticket) == 1


def test_facts_as_the_form_stores_them_pass_the_second_check(action_database: str) -> None:
    """Every kind's facts in the form the form stores them (normalised) are taken again."""
    facts = {"first_account": "jsmith", "second_account": "jsmith2", "keep_account": "jsmith2",
             "contact_email": "jon@example.org"}
    said = run(ActionCompleteRequest(), tracker(request_kind="merge_duplicate_accounts",
                                                request_facts=facts))
    assert "Done: your request is HD-" in said


# ---------------------------------------------------------------- errors carry no data
def test_sql_errors_carry_no_parameters(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (email TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO people VALUES (:e)"), {"e": "ada@example.org"})
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO people VALUES (:e)"), {"e": "ada@example.org"})
    engine.dispose()
    assert "ada@example.org" not in str(raised.value)
    assert "hidden" in str(raised.value)


def test_a_locked_database_gets_a_plain_answer_and_a_log_without_data(
    action_database: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """The database locked by another writer (SQLite's lock, held for the whole test): the
    user hears that something went wrong, and the log names the error's class only."""
    from bot import services

    services.sessions.cache_clear()
    services.recovery_service.cache_clear()
    holder = make_engine(action_database)
    lock = holder.connect()
    lock.exec_driver_sql("BEGIN EXCLUSIVE")
    engine = services.sessions().kw["bind"]
    engine.pool.dispose()
    # Fail at once rather than after SQLite's 5 s wait.
    from sqlalchemy import event

    event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA busy_timeout = 0"))
    try:
        with caplog.at_level(logging.DEBUG):
            said = run(ActionRequestPasswordReset(), tracker(**GOOD_IDENTITY))
    finally:
        lock.exec_driver_sql("ROLLBACK")
        lock.close()
        holder.dispose()
    assert "something went wrong on my side" in said
    logged = caplog.text
    assert "OperationalError" in logged
    for value in ("ada.example", "Example", "1984"):
        assert value not in logged, value
